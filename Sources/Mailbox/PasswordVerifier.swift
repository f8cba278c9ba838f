import Foundation

#if canImport(Glibc)
    import Glibc
#endif
import Synchronization

/// Checks user passwords against the users file, and answers who may read which mailbox and send as whom.
///
/// Those answers (`entry(for:)`, `hasUsers`) come from a cached copy and touch no file: they are asked on
/// event loops, once a session or a MAIL command. The copy is brought up to date by `refresh()`, which
/// looks at the file (stat, and a re-read when it changed) and is blocking: the server calls it off the
/// event loops, every couple of seconds (`UsersFileWatcher`) and before each password check, so
/// `relaygate users add` takes effect without a restart. Password checks are blocking too (hashing is
/// slow on purpose).
public final class PasswordVerifier: Sendable, CustomStringConvertible {
    /// Never the hashes.
    public var description: String { "PasswordVerifier(\(path))" }

    public let path: String
    private let cache: Mutex<(users: UsersFile, version: FileVersion?)>

    /// What changes when the file is edited or replaced.
    struct FileVersion: Equatable {
        var inode: UInt64
        var size: Int64
        var modified: timespec

        static func == (lhs: FileVersion, rhs: FileVersion) -> Bool {
            lhs.inode == rhs.inode && lhs.size == rhs.size && lhs.modified.tv_sec == rhs.modified.tv_sec
                && lhs.modified.tv_nsec == rhs.modified.tv_nsec
        }
    }

    public init(path: String) throws {
        self.path = path
        let version = Self.version(path)
        cache = Mutex((try UsersFile.load(path: path), version))
    }

    /// Whether anyone can log in at all (AUTH is offered only then). From the cached copy.
    public var hasUsers: Bool { !cache.withLock { $0.users.entries.isEmpty } }

    public enum Outcome: Sendable, Equatable {
        case accepted
        case rejected
        /// The users file changed and no longer parses: the operator must fix it.
        case unavailable(String)
    }

    /// Blocking.
    public func verify(username: String, password: String) -> Outcome {
        let users: UsersFile
        do {
            users = try refresh()
        } catch {
            return .unavailable("\(error)")
        }
        guard let hash = users.hash(for: username) else {
            _ = PasswordHash.verify(password, against: PasswordHash.decoy)
            return .rejected
        }
        return PasswordHash.verify(password, against: hash) ? .accepted : .rejected
    }

    /// A user's line (their mailbox and allowed senders), from the cached copy.
    public func entry(for name: String) -> UsersFile.Entry? {
        cache.withLock { $0.users.entry(for: name) }
    }

    /// Re-reads the file if it changed since the last look, and returns the users in force. A file that
    /// no longer parses throws, and the cached copy stays (the error says what to fix). Blocking.
    @discardableResult
    public func refresh() throws -> UsersFile {
        let version = Self.version(path)
        if let cached = cache.withLock({ $0.version == version ? $0.users : nil }) { return cached }
        let users = try UsersFile.load(path: path)
        cache.withLock { $0 = (users, version) }
        return users
    }

    private static func version(_ path: String) -> FileVersion? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileVersion(inode: UInt64(info.st_ino), size: Int64(info.st_size), modified: info.st_mtim)
    }
}
