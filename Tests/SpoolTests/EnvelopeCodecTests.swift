import Foundation
import MailModel
import Spool
import Testing

@Suite struct EnvelopeCodecTests {
    @Test func roundTrips() throws {
        let envelope = Envelope.sample(.sample())
        #expect(try EnvelopeCodec.decode(EnvelopeCodec.encode(envelope)) == envelope)
    }

    /// A client-chosen string with quotes, newlines, a NUL and non-ASCII is just data in the record.
    @Test func hostileStringsCannotBreakTheRecord() throws {
        let envelope = Envelope.sample(.sample(), helo: "evil\"}\n\r\u{0}\\ ünïcode")
        let bytes = try EnvelopeCodec.encode(envelope)
        #expect(bytes.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        #expect(try EnvelopeCodec.decode(bytes) == envelope)
    }

    @Test func everyFlippedByteIsCaught() throws {
        let bytes = try EnvelopeCodec.encode(.sample(.sample()))
        let newline = bytes.firstIndex(of: UInt8(ascii: "\n"))!
        for index in stride(from: newline + 1, to: bytes.count, by: 7) {
            var damaged = bytes
            damaged[index] ^= 0x01
            #expect(throws: EnvelopeCodec.DecodingFailure.checksumMismatch) { try EnvelopeCodec.decode(damaged) }
        }
    }

    @Test func truncatedFileIsCaught() throws {
        let bytes = try EnvelopeCodec.encode(.sample(.sample()))
        #expect(throws: EnvelopeCodec.DecodingFailure.checksumMismatch) {
            try EnvelopeCodec.decode(Array(bytes.dropLast(5)))
        }
        #expect(throws: EnvelopeCodec.DecodingFailure.badHeader) { try EnvelopeCodec.decode(Array(bytes.prefix(10))) }
        #expect(throws: EnvelopeCodec.DecodingFailure.badHeader) { try EnvelopeCodec.decode([]) }
    }

    @Test func unknownVersionIsNamed() throws {
        var text = String(decoding: try EnvelopeCodec.encode(.sample(.sample())), as: UTF8.self)
        text = text.replacingOccurrences(of: "relaygate-envelope 1 ", with: "relaygate-envelope 9 ")
        #expect(throws: EnvelopeCodec.DecodingFailure.unsupportedVersion("9")) {
            try EnvelopeCodec.decode(Array(text.utf8))
        }
    }
}
