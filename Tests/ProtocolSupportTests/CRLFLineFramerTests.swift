import NIOCore
import ProtocolSupport
import Testing

@Suite struct LineFramerTests {
    func frames(_ chunks: [String], limit: Int = 100) -> [CRLFLineFramer.Frame] {
        var framer = CRLFLineFramer(maxLineLength: limit)
        var buffer = ByteBuffer()
        var result: [CRLFLineFramer.Frame] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let frame = framer.next(from: &buffer) { result.append(frame) }
        }
        return result
    }

    @Test func onlyCRLFEndsALine() {
        #expect(frames(["a\r\nb\nc\rd\r\n"]) == [.line(Array("a".utf8)), .line(Array("b\nc\rd".utf8))])
    }

    @Test func linesMaySplitAnywhere() {
        #expect(frames(["NO", "OP\r", "\nQU", "IT\r\n"]) == [.line(Array("NOOP".utf8)), .line(Array("QUIT".utf8))])
    }

    @Test func limitCountsTheCRLF() {
        #expect(frames(["12345678\r\n"], limit: 10) == [.line(Array("12345678".utf8))])
        #expect(frames(["123456789\r\n"], limit: 10) == [.tooLong])
    }

    @Test func overlongLineIsDroppedAsItArrivesAndReportedAtItsEnd() {
        var framer = CRLFLineFramer(maxLineLength: 10)
        var buffer = ByteBuffer()
        for _ in 0..<1000 {
            buffer.writeString("xxxxxxxxxxxxxxxxxxxx")
            #expect(framer.next(from: &buffer) == nil)
            #expect(buffer.readableBytes <= 10, "memory stays bounded")
        }
        buffer.writeString("\r")
        #expect(framer.next(from: &buffer) == nil)
        buffer.writeString("\nNOOP\r\n")
        #expect(framer.next(from: &buffer) == .tooLong)
        #expect(framer.next(from: &buffer) == .line(Array("NOOP".utf8)))
    }
}
