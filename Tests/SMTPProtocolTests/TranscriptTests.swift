import MailModel
import Routing
import SMTPProtocol
import Testing
import TranscriptSupport

extension Transcript: CustomTestStringConvertible {
    public var testDescription: String { name }
}

/// Runs every dialog fixture against the pure session, once with each step in one read and once a byte at a
/// time: framing must not depend on how TCP cuts the stream.
@Suite struct TranscriptTests {
    static let transcripts = (try? Transcript.all()) ?? []

    @Test func fixturesLoad() throws {
        #expect(try Transcript.all().count >= 40)
    }

    @Test(arguments: transcripts, [false, true])
    func dialog(_ transcript: Transcript, byteByByte: Bool) throws {
        if byteByByte && transcript.needsSameRead { return }
        var harness = try SessionHarness(transcript: transcript)
        for step in transcript.steps {
            switch step {
            case .send(let bytes):
                harness.feed(bytes, byteByByte: byteByByte)
            case .expectReply(let prefix):
                let reply = try #require(harness.replies.first, "expected \(prefix), got nothing")
                harness.replies.removeFirst()
                let firstLine = reply.encoded.split(separator: "\r\n")[0].description.replacingFirstDash()
                #expect(firstLine.hasPrefix(prefix), "expected \(prefix), got \(firstLine)")
            case .expectClosed:
                #expect(harness.replies.isEmpty, "unexpected replies \(harness.replies)")
                #expect(harness.closed)
            case .expectBody(let body):
                #expect(harness.lastContent == body)
            }
        }
        #expect(harness.replies.isEmpty, "replies nobody expected: \(harness.replies.map(\.description))")
    }
}

extension SessionHarness {
    /// A harness configured by a fixture's `@set` lines.
    init(transcript: Transcript) throws {
        var configuration = SMTPServerConfiguration(hostname: "mx.test")
        var networks = RelayNetworksPolicy.defaultNetworks
        for (key, value) in transcript.settings {
            switch key {
            case "max_recipients": configuration.maxRecipients = try #require(Int(value))
            case "max_message_size": configuration.maxMessageSize = try #require(Int(value))
            case "max_errors": configuration.maxErrors = try #require(Int(value))
            case "max_line_length": configuration.maxCommandLineLength = try #require(Int(value))
            case "max_sasl_line_length": configuration.maxSASLLineLength = try #require(Int(value))
            case "max_received_headers": configuration.maxReceivedHeaders = try #require(Int(value))
            case "max_local_part": configuration.addressLimits = AddressLimits(maxLocalPart: try #require(Int(value)))
            case "relay_networks":
                networks = try value.split(separator: ",").map { try #require(IPNetwork(String($0))) }
            default: Issue.record("unknown setting \(key) in \(transcript.name)")
            }
        }
        let client = SMTPClientConnection(
            address: IPAddress("127.0.0.1"), port: 40000, implicitTLS: transcript.implicitTLS)
        self.init(configuration: configuration, client: client, policy: RelayNetworksPolicy(trustedNetworks: networks))
    }
}

extension String {
    /// `250-text` (a continuation line) reads as `250 text` for matching.
    func replacingFirstDash() -> String {
        guard count > 3, self[index(startIndex, offsetBy: 3)] == "-" else { return self }
        var copy = self
        copy.replaceSubrange(index(startIndex, offsetBy: 3)...index(startIndex, offsetBy: 3), with: " ")
        return copy
    }
}
