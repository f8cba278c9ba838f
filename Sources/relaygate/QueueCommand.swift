import ArgumentParser
import Foundation
import MailModel
import Relaygate
import Spool

#if canImport(Glibc)
    import Glibc
#endif

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Look at and act on the queue (also while the server runs).",
        discussion: """
            Commands that move a message (retry, hold, release, delete, bounce) wait while the server recovers \
            the spool at start, and leave a line with the queue ID in the server's log. Run as root, they act \
            as the spool's owner, so the server can still read everything they write.
            """,
        subcommands: [List.self, Show.self, Retry.self, Hold.self, Release.self, Delete.self, Bounce.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List queued messages, oldest first.")
        @OptionGroup var common: CommonOptions

        func run() throws {
            let spool = try openSpool(common)
            print(QueueReport.list(spool.entries()), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one message's envelope.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The queue ID, as `queue list` shows it.") var id: String

        func run() throws {
            let queueID = try parseQueueID(id)
            let spool = try openSpool(common)
            guard let entry = spool.entry(queueID) else { throw RuntimeError("no message \(id) in \(spool.directory)") }
            print(QueueReport.show(entry, bodyPath: spool.bodyPath(queueID)), terminator: "")
        }
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deliver deferred messages now.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "Queue IDs to retry.") var ids: [String] = []
    @Flag(help: "Retry every deferred message.") var all = false

    func run() throws {
        guard all != !ids.isEmpty else { throw ValidationError("give queue IDs or --all") }
        let queueIDs = try ids.map(parseQueueID)
        let (spool, user) = try openSpoolForChange(common)
        let moved = try changingQueue(spool) {
            // Each move is recorded as it happens, so one bad ID later in the list loses no earlier record.
            let ids = all ? spool.ids(in: .deferred) : queueIDs
            var moved = 0
            for id in ids {
                guard try QueueOperations.retry(spool, id, strict: !all) else { continue }
                try? spool.record(.now("retry", id, by: user))
                moved += 1
            }
            return moved
        }
        print("\(moved) message\(moved == 1 ? "" : "s") will be tried now")
    }
}

struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set a message aside: no delivery until released.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        let queueID = try parseQueueID(id)
        let (spool, user) = try openSpoolForChange(common)
        let done = try changingQueue(spool) { () throws -> String in
            do {
                try QueueOperations.hold(spool, queueID)
            } catch Spool.OperatorError.held(queueID) {
                return "is already held"
            }
            try? spool.record(.now("hold", queueID, by: user))
            return "is held"
        }
        print("\(queueID) \(done)")
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Release a held message; it is tried at once.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        try operate(common, id, "release", "is released") { spool, id in try QueueOperations.release(spool, id) }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a message for good, without telling its sender.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        try operate(common, id, "delete", "is deleted") { spool, id in try QueueOperations.delete(spool, id) }
    }
}

struct Bounce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give up on a message: its sender gets a delivery status notification.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        let queueID = try parseQueueID(id)
        let settings = try common.settings()
        let (spool, user) = try openSpoolForChange(common)
        let dsn = try changingQueue(spool) {
            let dsn = try QueueOperations.bounce(settings, spool, queueID)
            try? spool.record(.now("bounce", queueID, by: user, detail: dsn.map { "dsn=\($0)" } ?? "no DSN owed"))
            return dsn
        }
        print("\(queueID) is returned to its sender" + (dsn.map { " (DSN \($0))" } ?? " (no DSN owed)"))
    }
}

/// One queue command on one message: parse the ID, act under the queue lock, leave the action for the
/// server's log, say what happened (or why not).
private func operate(
    _ common: CommonOptions, _ text: String, _ action: String, _ done: String,
    _ operation: (Spool, QueueID) throws -> Void
) throws {
    let id = try parseQueueID(text)
    let (spool, user) = try openSpoolForChange(common)
    try changingQueue(spool) {
        try operation(spool, id)
        try? spool.record(.now(action, id, by: user))
    }
    print("\(id) \(done)")
}

private func parseQueueID(_ text: String) throws -> QueueID {
    guard let id = QueueID(text) else { throw ValidationError("\(text) is not a queue ID") }
    return id
}

/// Runs a change to the queue under the spool's queue lock (`SpoolLock`), so it never meets a server's
/// recovery halfway; an error becomes a one-line message and exit status 1.
private func changingQueue<T>(_ spool: Spool, _ change: () throws -> T) throws -> T {
    do {
        let lock = try SpoolLock.acquireWaiting(.queue, spool: spool.directory) { holder in
            printError(
                "waiting for \(holder.map { "PID \($0)" } ?? "another process") to finish with the spool "
                    + "(a server recovering it, or another queue command)")
        }
        return try withExtendedLifetime(lock) { try change() }
    } catch {
        throw RuntimeError("\(error)")
    }
}

/// Opens the spool for a command that only looks.
private func openSpool(_ common: CommonOptions) throws -> Spool {
    let directory = try common.settings().configuration.spool
    do {
        return try Spool(directory: directory, create: false)
    } catch {
        throw RuntimeError("cannot open the spool: \(error)")
    }
}

/// Opens the spool for a command that moves messages, and says who runs it (for the server's log). As
/// root, the command first becomes the spool's owner: files it writes (a DSN, a lock, an operator record)
/// must stay readable by a server that runs as that user.
private func openSpoolForChange(_ common: CommonOptions) throws -> (Spool, user: String) {
    let user = invokingUser()
    // Read while still root: relaygate.yaml may be readable by root alone (it can hold passwords).
    let directory = try common.settings().configuration.spool
    var info = stat()
    guard stat(directory, &info) == 0 else {
        throw RuntimeError("cannot open the spool \(directory): \(String(cString: strerror(errno)))")
    }
    if geteuid() == 0 && info.st_uid != 0 {
        guard setgroups(0, nil) == 0, setgid(info.st_gid) == 0, setuid(info.st_uid) == 0 else {
            throw RuntimeError("cannot act as the spool's owner (uid \(info.st_uid)): \(String(cString: strerror(errno)))")
        }
    }
    do {
        return (try Spool(directory: directory, create: false), user)
    } catch {
        throw RuntimeError("cannot open the spool: \(error)")
    }
}

/// The login name of the real user, with the sudo user behind it when there is one: `root (sudo: alice)`.
private func invokingUser() -> String {
    let name = getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "uid \(getuid())"
    guard let sudo = ProcessInfo.processInfo.environment["SUDO_USER"], !sudo.isEmpty else { return name }
    return "\(name) (sudo: \(sudo))"
}

extension OperatorAction {
    /// An action on `id` by `user`, now, from this process.
    static func now(_ action: String, _ id: QueueID, by user: String, detail: String? = nil) -> OperatorAction {
        OperatorAction(
            action: action, queueID: id, user: user, pid: getpid(), time: Date().timeIntervalSince1970, detail: detail)
    }
}
