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
