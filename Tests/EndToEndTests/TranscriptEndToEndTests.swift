import Foundation
import MailModel
import Spool
import Testing
import TranscriptSupport

/// The dialog fixtures of SMTPProtocolTests, replayed byte for byte against the running server over loopback.
/// Fixtures that need TLS inside the dialog (`@pure`) are covered by the Python TLS tests instead.
@Suite struct TranscriptEndToEndTests {
    @Test func everyFixtureAgainstTheServer() async throws {
        let transcripts = try Transcript.all().filter { !$0.pureOnly }
        #expect(transcripts.count > 40)
        let groups = Dictionary(grouping: transcripts) { smtpConfig($0.settings) ?? "" }
        for (config, group) in groups.sorted(by: { $0.key < $1.key }) {
            // The same user the pure harness knows, so AUTH behaves alike in both.
            try await withServer(config: config.isEmpty ? nil : config, users: ["alice": "secret"]) { server in
                for transcript in group {
                    do {
                        try await play(transcript, on: server)
                    } catch {
                        Issue.record("\(transcript.name): \(error)\nserver log:\n\(server.logText.suffix(3000))")
                    }
                }
            }
        }
    }

    private func play(_ transcript: Transcript, on server: ServerProcess) async throws {
        let client = try RawClient(port: server.smtpPort)
        var lastQueueID: String?
        for step in transcript.steps {
            switch step {
            case .send(let bytes):
                try await client.send(bytes)
            case .expectReply(let prefix):
                guard let reply = try await client.readReply() else {
                    throw ServerProcessError("expected \(prefix), the server closed the connection")
                }
                let first = reply[0].count > 3 ? String(reply[0].prefix(3)) + " " + reply[0].dropFirst(4) : reply[0]
                #expect(first.hasPrefix(prefix), "\(transcript.name): expected \(prefix), got \(reply)")
                if let range = first.range(of: "queued as ") { lastQueueID = String(first[range.upperBound...]) }
            case .expectClosed:
                #expect(try await client.isClosed(), "\(transcript.name): expected the connection to close")
            case .expectBody(let expected):
                let id = try #require(lastQueueID, "\(transcript.name): B: without a queued message")
                let body = try queuedContent(server, id)
                #expect(Array(contentWithoutOurReceivedHeader(body)) == expected, "\(transcript.name): body differs")
            }
        }
    }
}

/// A queued message's content as the spool holds it (its body file holds the envelope after it).
func queuedContent(_ server: ServerProcess, _ id: String) throws -> Data {
    let spool = try Spool(directory: server.spool, create: false)
    let queueID = try #require(QueueID(id))
    let envelope = try #require(spool.entry(queueID)?.envelope, "no envelope for \(id)")
    return Data(try spool.content(of: envelope))
}

/// The stored body minus the Received field we prepend (its first line and its tab-indented continuations).
func contentWithoutOurReceivedHeader(_ body: Data) -> Data {
    let bytes = [UInt8](body)
    var index = 0
    var first = true
    while index < bytes.count, first || bytes[index] == UInt8(ascii: "\t") {
        first = false
        while index + 1 < bytes.count, !(bytes[index] == 13 && bytes[index + 1] == 10) { index += 1 }
        index += 2
    }
    return Data(bytes[min(index, bytes.count)...])
}
