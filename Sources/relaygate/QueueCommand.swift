import ArgumentParser
import MailModel
import Relaygate
import Spool

struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Look at the spool.",
        subcommands: [List.self, Show.self])

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

private func openSpool(_ common: CommonOptions) throws -> Spool {
    let settings = try common.settings()
    do {
        return try Spool(directory: settings.configuration.spool, create: false)
    } catch {
        throw ValidationError("cannot open the spool: \(error)")
    }
}
