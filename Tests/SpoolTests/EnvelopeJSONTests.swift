import Foundation
import MailModel
import Testing

@testable import Spool

/// The hand-written envelope JSON must be exactly what `JSONEncoder` writes, so the two can never disagree
/// on what an envelope says; these cover every optional field both ways and strings that need escaping.
@Suite struct EnvelopeJSONTests {
    func foundationJSON(_ envelope: Envelope) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        return Array(try encoder.encode(envelope))
    }

    func expectSame(_ envelope: Envelope, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = EnvelopeJSON.encode(envelope)
        let reference = try foundationJSON(envelope)
        #expect(
            ours == reference,
            """
            ours: \(String(decoding: ours, as: UTF8.self))
            JSONEncoder: \(String(decoding: reference, as: UTF8.self))
            """,
            sourceLocation: sourceLocation)
    }

    @Test func theSampleEnvelope() throws {
        try expectSame(.sample(.sample()))
    }

    @Test func everyOptionalFieldSet() throws {
        var envelope = Envelope.sample(.sample())
        envelope.nextAttempt = Date(timeIntervalSince1970: 1_795_790_123.5)
        envelope.attempts = 7
        envelope.delayWarned = true
        envelope.has8BitContent = true
        envelope.size = 123_456_789
        envelope.parameters = MailParameters(
            declaredSize: 99, body: .sevenBit, smtpUTF8: true, returnContent: .full, envelopeID: "env/1",
            authorizedSender: "")
        envelope.client.authenticatedUser = "alice"
        envelope.client.port = nil
        envelope.client.tlsVersion = nil
        envelope.sender = .null
        envelope.recipients = [
            Recipient(
                address: try EmailAddress(parsing: "ümlaut@bücher.example"),
                originalRecipient: OriginalRecipient(addressType: "utf-8", address: "a+b/c@x.example"),
                notify: NotifyConditions(parameter: "SUCCESS,DELAY"), status: .failed,
                route: .host("192.0.2.7", port: 2525), rule: "routes.rules:12",
                sender: .mailbox(try EmailAddress(parsing: "SRS0=ab=CD=example.org=alice@fwd.example"))),
            Recipient(address: try EmailAddress(parsing: "bob@example.net"), status: .delivered, route: .relay("up")),
            Recipient(address: try EmailAddress(parsing: "carol@example.net"), route: .mailbox("carol")),
            Recipient(address: try EmailAddress(parsing: "dave@example.net"), route: .discard),
            Recipient(address: try EmailAddress(parsing: "erin@example.net"), route: .mx, sender: .null),
        ]
        envelope.recipients[1].lastError = "RCPT: 450 4.2.0 busy \"try\" later\\"
        try expectSame(envelope)
    }

    @Test func stringsThatNeedEscaping() throws {
        var controls = ""
        for value in 0..<0x20 { controls.unicodeScalars.append(Unicode.Scalar(UInt8(value))) }
        for helo in [controls, "quote\" backslash\\ slash/ del\u{7F}", "ünïcödé ✉️ 𝄞", "", "}\n{\"x\":1}"] {
            try expectSame(.sample(.sample(), helo: helo))
        }
    }

    @Test func arrivalTimesAsJSONEncoderWritesThem() throws {
        let times = [0, 1, 1_795_790_000, 1_795_790_000.25, 1_795_772_298.919734, 1_795_790_000.1, -1.5, 4e9 + 0.001]
        for seconds in times {
            var envelope = Envelope.sample(.sample())
            envelope.arrival = Date(timeIntervalSince1970: seconds)
            try expectSame(envelope)
        }
    }
}
