import MailModel
import SMTPProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Local delivery for `mailbox:NAME`: the message goes into the Maildir `ROOT/NAME/` (new/), written to
/// tmp/, fsynced and renamed, as the Maildir convention asks, so a reader never sees half a message.
/// POP3 and IMAP read these directories (the mailboxes issue builds on this layout).
public struct MaildirTransport: Sendable {
    public let root: String
    public let hostname: String

    public init(root: String, hostname: String) {
        self.root = root
        self.hostname = hostname
    }

    /// Copies the stored message (with a Delivered-To line first) into the mailbox. Blocking: run it off
    /// the event loops.
    public func deliver(name: String, recipient: EmailAddress, bodyPath: String, queueID: QueueID)
        -> SMTPClientSession.RecipientResult
    {
        let mailbox = root + "/" + name
        for directory in [root, mailbox, mailbox + "/tmp", mailbox + "/new", mailbox + "/cur"] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { return failure("cannot create \(directory)", errno) }
        }
        let unique = "\(queueID.rawValue).\(recipient.localPart.utf8.count)\(UInt32.random(in: 0...UInt32.max)).\(hostname)"
        let temporary = mailbox + "/tmp/" + unique
        let source = open(bodyPath, O_RDONLY)
        guard source >= 0 else { return failure("cannot read the queued message", errno) }
        defer { close(source) }
        let target = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard target >= 0 else { return failure("cannot create \(temporary)", errno) }
        var ok = write(target, "Delivered-To: \(recipient)\r\n")
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while ok {
            let count = read(source, &buffer, buffer.count)
            if count == 0 { break }
            ok = count > 0 && buffer.withUnsafeBytes { writeAll(target, UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        ok = ok && fsync(target) == 0
        close(target)
        guard ok, rename(temporary, mailbox + "/new/" + unique) == 0 else {
            let code = errno
            unlink(temporary)
            return failure("cannot write into mailbox \(name)", code)
        }
        if let directory = Optional(open(mailbox + "/new", O_RDONLY | O_DIRECTORY)), directory >= 0 {
            fsync(directory)
            close(directory)
        }
        return .delivered(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "delivered to mailbox \(name)"))
    }

    private func write(_ fd: Int32, _ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { writeAll(fd, $0) }
    }

    private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    private func failure(_ what: String, _ code: Int32) -> SMTPClientSession.RecipientResult {
        // A local disk problem is ours to fix: temporary, so the mail waits.
        .failed(.init(stage: .data, reply: nil, detail: "\(what): \(String(cString: strerror(code)))", isPermanent: false))
    }
}
