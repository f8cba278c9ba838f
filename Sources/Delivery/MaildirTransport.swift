import MailModel
import Mailbox
import SMTPProtocol
import Spool

#if canImport(Glibc)
    import Glibc
#endif

/// Local delivery for `mailbox:NAME`: the message goes into that mailbox's INBOX (`MailboxStore`), with
/// Return-Path and Delivered-To added in front and the stored bytes otherwise as received. The Maildir
/// convention (write to tmp/, fsync, rename into new/) means a reader never sees half a message.
public struct MaildirTransport: Sendable {
    public let store: MailboxStore
    public let hostname: String

    public init(root: String, hostname: String) {
        self.store = MailboxStore(root: root)
        self.hostname = hostname
    }

    /// Blocking: run it off the event loops.
    public func deliver(
        name: String, recipient: EmailAddress, returnPath: ReversePath, content: MessageContent, queueID: QueueID
    ) -> SMTPClientSession.RecipientResult {
        let source: Int32
        do { source = try content.openDescriptor() } catch {
            return failure("cannot read the queued message \(queueID): \(error)", nil)
        }
        defer { close(source) }
        do {
            try store.createMailbox(name)
            // RFC 5321 4.4: the final delivery adds Return-Path with the envelope sender.
            let prefix = "Return-Path: \(returnPath)\r\nDelivered-To: \(recipient)\r\n"
            _ = try store.inbox(of: name).deliver(
                prefix: Array(prefix.utf8), source: source, length: content.length, hostname: hostname)
        } catch {
            return failure("mailbox \(name): \(error)", nil)
        }
        return .delivered(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "delivered to mailbox \(name)"))
    }

    private func failure(_ what: String, _ code: Int32?) -> SMTPClientSession.RecipientResult {
        // A local disk problem is ours to fix: temporary, so the mail waits.
        let detail = code.map { "\(what): \(String(cString: strerror($0)))" } ?? what
        return .failed(.init(stage: .data, reply: nil, detail: detail, isPermanent: false))
    }
}
