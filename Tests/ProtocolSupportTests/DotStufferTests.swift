import NIOCore
import ProtocolSupport
import Testing

@Suite struct DotStufferTests {
    func stuff(_ chunks: [String]) -> String {
        var stuffer = DotStuffer()
        var output = chunks.map { String(buffer: stuffer.stuff(ByteBuffer(string: $0))) }.joined()
        output += String(buffer: stuffer.terminator())
        return output
    }

    @Test func linesStartingWithADotGetAnother() {
        #expect(stuff([".hidden\r\nx\r\n..\r\n"]) == "..hidden\r\nx\r\n...\r\n.\r\n")
    }

    @Test func chunkBoundariesDoNotMatter() {
        let whole = stuff(["a\r\n.b\r\n"])
        #expect(stuff(["a\r", "\n", ".b\r\n"]) == whole)
        #expect(stuff(["a\r\n", ".", "b\r\n"]) == whole)
    }

    @Test func contentWithoutAFinalCRLFGetsOne() {
        #expect(stuff(["no newline"]) == "no newline\r\n.\r\n")
        #expect(stuff([]) == ".\r\n")
    }
}

@Suite struct DotStufferLineEndTests {
    func stuff(_ chunks: [String], bodyLineLimit: Int? = nil) -> String {
        var stuffer = DotStuffer(bodyLineLimit: bodyLineLimit)
        var output = chunks.map { String(buffer: stuffer.stuff(ByteBuffer(string: $0))) }.joined()
        output += String(buffer: stuffer.terminator())
        return output
    }

    @Test func bareLineFeedsBecomeCRLF() {
        #expect(stuff(["a\nb\r\n.c\n"]) == "a\r\nb\r\n..c\r\n.\r\n")
        #expect(stuff(["a\r", "\nb\n"]) == "a\r\nb\r\n.\r\n", "a CR at a chunk's end still pairs with the LF")
    }

    @Test func aBareCRIsContent() {
        #expect(stuff(["a\rb\r\n"]) == "a\rb\r\n.\r\n")
    }

    @Test func topSendsTheHeaderAndThatManyBodyLines() {
        let message = "Subject: x\r\nFrom: y\r\n\r\none\r\n.two\r\nthree\r\n"
        #expect(stuff([message], bodyLineLimit: 0) == "Subject: x\r\nFrom: y\r\n\r\n.\r\n")
        #expect(stuff([message], bodyLineLimit: 2) == "Subject: x\r\nFrom: y\r\n\r\none\r\n..two\r\n.\r\n")
        #expect(stuff([message], bodyLineLimit: 99) == stuff([message]))
        #expect(stuff(["Subject: x\n", "\nbody\n", "more\n"], bodyLineLimit: 1) == "Subject: x\r\n\r\nbody\r\n.\r\n")
    }

    @Test func aMessageWithoutABodyIsAllHeader() {
        #expect(stuff(["Subject: x\r\n"], bodyLineLimit: 0) == "Subject: x\r\n.\r\n")
    }
}
