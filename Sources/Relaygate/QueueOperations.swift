import Delivery
import Foundation
import MailModel
import Routing
import SMTPProtocol
import Spool

/// `relaygate queue retry|hold|release|delete|bounce`: the operator's hands on the queue. Each works on a
/// running server's spool by renames (see `Spool+Operator`), so the scheduler sees the change at its next
/// scan (within a second) and nothing is ever half-written.
public enum QueueOperations {
    /// A deferred message back to incoming/: tried at once. A held one is not (`release` is for that).
    /// `strict`: a message that is not there is an error; otherwise (`--all`, racing the scheduler) it is
    /// skipped and false returned.
    public static func retry(_ spool: Spool, _ id: QueueID, strict: Bool) throws -> Bool {
        do {
            try spool.move(id, from: [.deferred, .incoming], to: .incoming)
            return true
        } catch where !strict {
            return false
        }
    }

    public static func hold(_ spool: Spool, _ id: QueueID) throws {
        try spool.move(id, from: [.incoming, .deferred], to: .hold)
    }

    public static func release(_ spool: Spool, _ id: QueueID) throws {
        try spool.move(id, from: [.hold], to: .incoming)
    }

    public static func delete(_ spool: Spool, _ id: QueueID) throws {
        try spool.delete(id)
    }

    /// Gives up on every pending recipient: the sender gets a DSN (when one is owed), the message leaves
    /// the spool. Returns the DSN's queue ID.
    public static func bounce(_ settings: Settings, _ spool: Spool, _ id: QueueID) throws -> QueueID? {
        let configuration = settings.configuration
        let rules = try RoutingSetup.loadRules(settings)
        let secrets = try SRSSecrets.load(path: RoutingSetup.srsSecretsPath(configuration), create: true)
        let router = RecipientRouter(RoutingSetup.router(settings, rules: rules, secrets: secrets))
        var envelope = try spool.takeForOperator(id)
        let pending = envelope.recipients.indices.filter { envelope.recipients[$0].status == .pending }
        let failure = SMTPClientSession.Failure(
            stage: .connect, reply: nil, detail: "returned to the sender by the mail system's operator", isPermanent: true)
        for index in pending {
            envelope.recipients[index].status = .failed
            envelope.recipients[index].lastError = failure.detail
        }
        var dsnID: QueueID?
        let owed = DeliveryStatusNotification.recipients(pending, of: envelope, for: .failed)
        if !owed.isEmpty {
            let queue = DeliverySetup.notificationQueue(spool: spool, router: router, hostname: configuration.hostname)
            let dsn = DeliveryStatusNotification(
                kind: .failed, reportingHost: configuration.hostname, original: envelope,
                entries: owed.map { .init(recipient: envelope.recipients[$0], failure: failure) },
                now: Int(Date().timeIntervalSince1970))
            dsnID = try queue(envelope, dsn)?.queueID
        }
        try spool.finish([id])
        return dsnID
    }
}
