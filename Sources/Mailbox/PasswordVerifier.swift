import Foundation
import Synchronization

/// Checks user passwords against the users file, re-reading the file when it changes so that
/// `relaygate users add` takes effect without a restart. Blocking (hashing is deliberately slow): run it
/// off the event loop.
public final class PasswordVerifier: Sendable, CustomStringConvertible {
    /// Never the hashes.
    public var description: String { "PasswordVerifier(\(path))" }

    public let path: String
    private let cache: Mutex<(users: UsersFile, modified: Date?)>

    public init(path: String) throws {
        self.path = path
        cache = Mutex((try UsersFile.load(path: path), Self.modificationDate(path)))
    }

    /// Whether anyone can log in at all (AUTH is offered only then).
    public var hasUsers: Bool { !currentUsers().entries.isEmpty }

    public enum Outcome: Sendable, Equatable {
        case accepted
        case rejected
        /// The users file changed and no longer parses: the operator must fix it.
        case unavailable(String)
    }

    public func verify(username: String, password: String) -> Outcome {
        let users: UsersFile
        do {
            users = try reloadIfChanged()
        } catch {
            return .unavailable("\(error)")
        }
        guard let hash = users.hash(for: username) else {
            _ = PasswordHash.verify(password, against: PasswordHash.decoy)
            return .rejected
        }
        return PasswordHash.verify(password, against: hash) ? .accepted : .rejected
    }

    /// A user's line (their mailbox and allowed senders), as the file says now.
    public func entry(for name: String) -> UsersFile.Entry? {
        currentUsers().entry(for: name)
    }

    private func currentUsers() -> UsersFile {
        (try? reloadIfChanged()) ?? cache.withLock { $0.users }
    }

    private func reloadIfChanged() throws -> UsersFile {
        let modified = Self.modificationDate(path)
        if let cached = cache.withLock({ $0.modified == modified ? $0.users : nil }) { return cached }
        let users = try UsersFile.load(path: path)
        cache.withLock { $0 = (users, modified) }
        return users
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
