import ArgumentParser
import Bench
import Logging
import Relaygate
import Server

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load generator and sink, like Postfix's smtp-source and smtp-sink.",
        subcommands: [Send.self, Sink.self, Rules.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send messages as fast as the server takes them; print the rate and latency.")

        @Option(help: ArgumentHelp("Server address.", valueName: "host:port")) var to: String
        @Option(help: "Messages to send in all.") var messages = 1000
        @Option(help: "Octets per message.") var size = 1024
        @Option(help: "Concurrent sessions.") var sessions = 1

        func run() async throws {
            guard let address = ListenAddress(to) else { throw ValidationError("--to \(to): expected HOST:PORT") }
            guard messages > 0, sessions > 0, size > 0 else { throw ValidationError("counts must be above 0") }
            let generator = LoadGenerator(
                options: .init(
                    host: address.host, port: address.port, messages: messages, size: size, sessions: sessions))
            print("sending \(messages) messages of \(size) octets over \(sessions) session(s) to \(address)")
            let report = try await generator.run()
            print(report)
        }
    }

    struct Sink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Accept and count messages, keeping nothing. Stop with Ctrl-C.")

        @Option(help: ArgumentHelp("Address to listen on.", valueName: "addr:port")) var listen = "127.0.0.1:2525"
        @Option(help: "Name in the greeting.") var hostname = "sink.relaygate.test"

        func run() async throws {
            guard let address = ListenAddress(listen) else {
                throw ValidationError("--listen \(listen): expected ADDR:PORT")
            }
            LoggingSystem.bootstrap { KeyValueLogHandler(label: $0, level: .info) }
            try await Gateway.sink(listen: address, hostname: hostname, logger: Logger(label: "bench"))
        }
    }

    struct Rules: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time loading a large synthetic rule table and looking recipients up in it.")

        @Option(help: "Exact rules to generate.") var count = 100_000
        @Option(help: "Lookups to time, of each kind.") var lookups = 100_000

        func run() throws {
            guard count > 0, lookups > 0 else { throw ValidationError("counts must be above 0") }
            print(try RulesBenchmark.run(rules: count, lookups: lookups))
        }
    }
}
