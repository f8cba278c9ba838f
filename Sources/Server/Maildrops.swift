import Mailbox
import NIOCore
import NIOPosix
import POP3Protocol
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The POP3 side of the mailboxes: which mailbox a user reads, one POP3 session per mailbox at a time
/// (RFC 1939 8 leaves the lock to the server; a second session gets `[IN-USE]`), and the file work, all on
/// the thread pool so no event loop waits for a disk.
public final class Maildrops: Sendable {
    public let store: MailboxStore
    private let threadPool: NIOThreadPool
    private let mailboxOf: @Sendable (String) -> String?
    private let inUse = Mutex<Set<String>>([])

    /// `mailboxOf` gives the mailbox a logged-in user reads, or nil if they have none.
    public init(store: MailboxStore, threadPool: NIOThreadPool, mailboxOf: @escaping @Sendable (String) -> String?) {
        self.store = store
        self.threadPool = threadPool
        self.mailboxOf = mailboxOf
    }

    /// A maildrop a session holds: the folder and the messages as listed at login.
    public struct Maildrop: Sendable {
        public let mailbox: String
        public let folder: MaildirFolder
        public let uidValidity: UInt32
        public let messages: [MaildirFolder.Message]
        /// How long listing the folder took (it is in the log: a slow disk or a huge folder shows here).
        public let listingTime: Duration

        /// The session's view: CRLF sizes, and UIDVALIDITY.UID as the unique ID, so UIDL stays the same across
        /// sessions and agrees with what IMAP calls the message.
        public var entries: [POP3Session.MaildropEntry] {
            messages.map { .init(size: $0.size, uniqueID: "\(uidValidity).\($0.uid)") }
        }
    }

    /// Locks the user's mailbox for this session and lists its INBOX.
    public func open(user: String, on eventLoop: any EventLoop)
        -> EventLoopFuture<Result<Maildrop, POP3Session.MaildropFailure>>
    {
        guard let mailbox = mailboxOf(user) else { return eventLoop.makeSucceededFuture(.failure(.noMailbox)) }
        guard inUse.withLock({ $0.insert(mailbox).inserted }) else {
            return eventLoop.makeSucceededFuture(.failure(.inUse))
        }
        let store = self.store
        return threadPool.runIfActive(eventLoop: eventLoop) { () -> Result<Maildrop, POP3Session.MaildropFailure> in
            do {
                try store.createMailbox(mailbox)
                let folder = store.inbox(of: mailbox)
                let start = ContinuousClock.now
                let snapshot = try folder.snapshot()
                return .success(
                    Maildrop(
                        mailbox: mailbox, folder: folder, uidValidity: snapshot.uidValidity,
                        messages: snapshot.messages, listingTime: ContinuousClock.now - start))
            } catch {
                return .failure(.unavailable("mailbox \(mailbox): \(error)"))
            }
        }.recover { .failure(.unavailable("\($0)")) }.map { [self] result in
            if case .failure = result { release(mailbox) }
            return result
        }
    }

    /// Gives the mailbox back (the session ended, however it ended).
    public func release(_ mailbox: String) {
        _ = inUse.withLock { $0.remove(mailbox) }
    }

    /// Opens a message file for reading; nil if it is gone.
    func openMessage(_ message: MaildirFolder.Message, in maildrop: Maildrop, on eventLoop: any EventLoop)
        -> EventLoopFuture<Int32?>
    {
        threadPool.runIfActive(eventLoop: eventLoop) { maildrop.folder.open(message) }
    }

    /// Reads the next chunk of an open message: empty at the end, nil if the read failed.
    func read(_ fd: Int32, on eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        threadPool.runIfActive(eventLoop: eventLoop) {
            var buffer = ByteBuffer()
            var failed = false
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 * 1024) { bytes in
                while true {
                    let count = Glibc.read(fd, bytes.baseAddress, bytes.count)
                    if count < 0 && errno == EINTR { continue }
                    failed = count < 0
                    return max(count, 0)
                }
            }
            return failed ? nil : buffer
        }.recover { _ in nil }
    }

    func close(_ fd: Int32, on eventLoop: any EventLoop) {
        _ = threadPool.runIfActive(eventLoop: eventLoop) { _ = Glibc.close(fd) }
    }

    /// UPDATE: removes the messages at these indexes. False if any could not be removed.
    func remove(_ indexes: [Int], from maildrop: Maildrop, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        threadPool.runIfActive(eventLoop: eventLoop) {
            do {
                try maildrop.folder.delete(indexes.map { maildrop.messages[$0] })
                return true
            } catch {
                return false
            }
        }.recover { _ in false }
    }
}
