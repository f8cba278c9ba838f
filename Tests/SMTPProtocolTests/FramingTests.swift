import NIOCore
import SMTPProtocol
import Testing

@Suite struct DataBodyReaderTests {
    /// Feeds `input` split at every position, and checks the output never depends on where TCP cut it.
    func read(_ input: String, maxSize: Int = 1000) -> (output: String, summary: DataBodyReader.Summary, rest: String) {
        let bytes = Array(input.utf8)
        var reference: (String, DataBodyReader.Summary, String)?
        for split in 0...bytes.count {
            var reader = DataBodyReader(maxSize: maxSize)
            var output = ByteBuffer()
            var rest = ByteBuffer()
            var finished = false
            for part in [bytes[..<split], bytes[split...]] {
                var buffer = ByteBuffer(bytes: part)
                if !finished { finished = reader.consume(&buffer, into: &output) }
                rest.writeBuffer(&buffer)
            }
            let result = (String(buffer: output), reader.currentSummary, String(buffer: rest))
            if let reference {
                #expect(
                    result.0 == reference.0 && result.1 == reference.1 && result.2 == reference.2, "split at \(split)")
            } else {
                reference = result
            }
        }
        return reference!
    }

    @Test func unstuffsAndStopsAtTheEndMarker() {
        let result = read("a\r\n..b\r\n.c\r\n...\r\n.\r\nRSET\r\n")
        #expect(result.output == "a\r\n.b\r\nc\r\n..\r\n")
        #expect(result.rest == "RSET\r\n")
        #expect(result.summary.size == result.output.utf8.count)
    }

    @Test func emptyContent() {
        #expect(read(".\r\n").output == "")
    }

    @Test(arguments: [
        "x\n.\nMAIL\r\n.\r\n", "x\n.\r\nMAIL\r\n.\r\n", "x\r.\r\nMAIL\r\n.\r\n", "x\r\n.\nMAIL\r\n.\r\n",
        "x\r\n.\rMAIL\r\n.\r\n",
    ])
    func bareLineEndingsNeverEndData(_ input: String) {
        let result = read(input)
        #expect(result.output.contains("MAIL"), "the smuggled command is content")
        #expect(result.summary.sawBareLF || result.summary.sawBareCR)
        #expect(result.rest == "")
    }

    @Test func nulIsNoted() {
        let result = read("a\u{0}b\r\n.\r\n")
        #expect(result.summary.sawNUL)
        #expect(!result.summary.sawBareLF)
    }

    @Test func sizeLimitStopsOutputButReadsToTheEnd() {
        let result = read("0123456789\r\n0123456789\r\n.\r\nQUIT\r\n", maxSize: 15)
        #expect(result.summary.exceededSizeLimit)
        #expect(result.summary.size == 24)
        #expect(result.output.utf8.count <= 15)
        #expect(result.rest == "QUIT\r\n")
    }

    @Test func countsReceivedFieldsInTheHeaderOnly() {
        let result = read("Received: a\r\nX: y\r\nreceived:b\r\n c\r\n\r\nReceived: body\r\n.\r\n")
        #expect(result.summary.receivedHeaderCount == 2)
    }

    @Test func notes8BitContent() {
        #expect(read("caf\u{e9}\r\n.\r\n").summary.has8BitOctets)
        #expect(!read("cafe\r\n.\r\n").summary.has8BitOctets)
    }
}
