import ArgumentParser
import MailModel
import Relaygate
import Spool

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Look at and act on the queue (also while the server runs).",
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
            guard let queueID = QueueID(id) else { throw ValidationError("\(id) is not a queue ID") }
            let spool = try openSpool(common)
            guard let entry = spool.entry(queueID) else {
                printError("no message \(id) in \(spool.directory)")
                throw ExitCode.failure
            }
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
        let spool = try openSpool(common)
        guard all != !ids.isEmpty else { throw ValidationError("give queue IDs or --all") }
        let moved = all ? QueueOperations.retryAll(spool) : try act { try QueueOperations.retry(spool, ids: try ids.map(queueID)) }
        print("\(moved) message\(moved == 1 ? "" : "s") will be tried now")
    }
}

struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set a message aside: no delivery until released.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        try operate(common, id, "is on hold") { spool, id in try QueueOperations.hold(spool, id) }
    }
}

struct Release: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Release a held message; it is tried at once.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        try operate(common, id, "is released") { spool, id in try QueueOperations.release(spool, id) }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a message for good, without telling its sender.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        try operate(common, id, "is deleted") { spool, id in try QueueOperations.delete(spool, id) }
    }
}

struct Bounce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Give up on a message: its sender gets a delivery status notification.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "The queue ID.") var id: String

    func run() throws {
        let settings = try common.settings()
        let spool = try openSpool(common)
        let dsn = try act { try QueueOperations.bounce(settings, spool, try queueID(id)) }
        print("\(id) is returned to its sender" + (dsn.map { " (DSN \($0))" } ?? " (no DSN owed)"))
    }
}

/// One queue command on one message: parse the ID, act, say what happened (or why not).
private func operate(
    _ common: CommonOptions, _ text: String, _ done: String, _ operation: (Spool, QueueID) throws -> Void
) throws {
    let spool = try openSpool(common)
    let id = try queueID(text)
    try act { try operation(spool, id) }
    print("\(id) \(done)")
}

private func queueID(_ text: String) throws -> QueueID {
    guard let id = QueueID(text) else { throw ValidationError("\(text) is not a queue ID") }
    return id
}

/// Runs an operation, turning its error into a message and a failing exit status.
private func act<T>(_ operation: () throws -> T) throws -> T {
    do {
        return try operation()
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("\(error)")
        throw ExitCode.failure
    }
}

private func openSpool(_ common: CommonOptions) throws -> Spool {
    let settings = try common.settings()
    do {
        return try Spool(directory: settings.configuration.spool, create: false)
    } catch {
        throw ValidationError("cannot open the spool: \(error)")
    }
}
