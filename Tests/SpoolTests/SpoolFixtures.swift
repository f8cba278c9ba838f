import Foundation
import MailModel
import Spool

/// A spool in a fresh temporary directory, removed when the test ends.
final class TemporarySpool: Sendable {
    let directory: String
    let spool: Spool

    init(minimumFreeSpace: Int = 0) throws {
        directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("relaygate-spool-\(UUID().uuidString)").path
        spool = try Spool(directory: directory, minimumFreeSpace: minimumFreeSpace)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func files(in subdirectory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + subdirectory)) ?? []).sorted()
    }

    /// Writes and commits a message with this content.
    @discardableResult
    func commit(_ content: String, id: QueueID = .sample()) throws -> QueueID {
        let writer = spool.makeWriter(for: id)
        try writer.write(Array(content.utf8))
        var envelope = Envelope.sample(id)
        envelope.size = content.utf8.count
        try writer.commit(envelope)
        return id
    }
}

extension QueueID {
    static func sample() -> QueueID {
        var generator = SystemRandomNumberGenerator()
        return QueueID.make(microsecondsSince1970: UInt64(Date().timeIntervalSince1970 * 1_000_000), using: &generator)
    }
}

extension Envelope {
    static func sample(_ id: QueueID, helo: String = "client.example") -> Envelope {
        Envelope(
            queueID: id,
            sender: .mailbox(try! EmailAddress(parsing: "alice@example.org")),
            recipients: [
                Recipient(address: try! EmailAddress(parsing: "bob@example.net"), notify: .never),
                Recipient(
                    address: try! EmailAddress(parsing: "\"c d\"@example.net"),
                    originalRecipient: OriginalRecipient(addressType: "rfc822", address: "c@example.net")),
            ],
            parameters: MailParameters(declaredSize: 10, body: .eightBitMIME, envelopeID: "id-1"),
            arrival: Date(timeIntervalSince1970: 1_790_000_000.25),
            size: 0,
            has8BitContent: false,
            client: ClientFacts(
                address: "192.0.2.1", port: 40000, helo: helo, protocolName: "ESMTPS", tlsVersion: "TLSv1.3",
                authenticatedUser: nil),
            receivedBy: "mx.test")
    }
}
