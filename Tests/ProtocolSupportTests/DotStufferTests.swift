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

    /// A bare CR ends a line like a bare LF: left as it was, stored content could carry `<CR>.<CR>` to a
    /// receiver that takes it for the end of the data (SMTP smuggling).
    @Test func aBareCRBecomesCRLF() {
        #expect(stuff(["a\rb\r\n"]) == "a\r\nb\r\n.\r\n")
        #expect(stuff(["a\r", "b"]) == "a\r\nb\r\n.\r\n", "a CR at a chunk's end, then not an LF")
        #expect(stuff(["end\r"]) == "end\r\n.\r\n", "a final bare CR is the last line end")
        #expect(stuff(["a\r\r\nb"]) == "a\r\n\r\nb\r\n.\r\n")
    }

    /// The end-of-data look-alikes of the SMTP smuggling research, inside content and split across chunks at
    /// every point: what goes out has no bare CR or LF, and `CRLF . CRLF` only once, at the very end.
    @Test(arguments: ["\n.\n", "\n.\r\n", "\r.\r", "\r.\r\n", "\r\n.\r", "\r.\n", "\n.\r", "\r\n.\n", "\r\n\u{0}.\r\n"])
    func smugglingSequencesCannotEndTheData(_ sequence: String) {
        let content = "Subject: x\r\n\r\nbefore" + sequence + "MAIL FROM:<evil@example.org>\r\nafter\r\n"
        let bytes = Array(content.utf8)
        for split in 0...bytes.count {
            let chunks = [String(decoding: bytes[..<split], as: UTF8.self), String(decoding: bytes[split...], as: UTF8.self)]
            let wire = Array(stuff(chunks).utf8)
            for (index, byte) in wire.enumerated() {
                if byte == 13 { #expect(index + 1 < wire.count && wire[index + 1] == 10, "bare CR in \(wire)") }
                if byte == 10 { #expect(index > 0 && wire[index - 1] == 13, "bare LF in \(wire)") }
            }
            let ends = String(decoding: wire, as: UTF8.self).components(separatedBy: "\r\n.\r\n").count - 1
            #expect(ends == 1 && String(decoding: wire, as: UTF8.self).hasSuffix("\r\n.\r\n"), "split at \(split)")
        }
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
