import ArgumentParser
import Relaygate

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Work with the forwarding rules.",
        subcommands: [Test.self])

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the decision a real session would make for one recipient, and how the rules reach it.",
            discussion: "Exits 0 when the recipient would be accepted, 1 when refused.")

        @OptionGroup var common: CommonOptions

        @Argument(help: ArgumentHelp("The recipient, as in RCPT TO.", valueName: "address"))
        var address: String

        @Option(name: .long, help: ArgumentHelp("The sender, as in MAIL FROM (default: <>).", valueName: "sender"))
        var from: String?

        @Option(name: .long, help: ArgumentHelp("The client's IP address (default: none, untrusted).", valueName: "ip"))
        var client: String?

        @Option(name: .long, help: ArgumentHelp("Decide as if the client authenticated as this user.", valueName: "user"))
        var auth: String?

        func run() throws {
            let settings = try common.settings()
            let outcome: RulesTest.Outcome
            do {
                outcome = try RulesTest.run(settings, recipient: address, sender: from, client: client, user: auth)
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            print(outcome.report)
            if !outcome.accepted { throw ExitCode.failure }
        }
    }
}
