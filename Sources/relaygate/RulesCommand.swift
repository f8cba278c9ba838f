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

struct RelayTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-test",
        abstract: "Connect to an upstream, walk EHLO, TLS and AUTH, and print the dialog (secrets redacted).",
        discussion: """
            With --to, also send a short test message. Each host that fails is named with the stage and the \
            reason before the next is tried. Exits 0 when it worked, 1 when a stage failed at every host, 2 when \
            the settings are wrong (no such upstream, an unreadable password file or CA file).
            """)

    @OptionGroup var common: CommonOptions
    @Argument(help: ArgumentHelp("The upstream's name in relaygate.yaml.", valueName: "upstream")) var upstream: String
    @Option(help: ArgumentHelp("Send a test message to this address.", valueName: "address")) var to: String?
    @Option(help: ArgumentHelp("Its sender (default: postmaster@HOSTNAME).", valueName: "address")) var from: String?

    func run() async throws {
        let settings = try common.settings()
        let worked: Bool
        do {
            worked = try await RelayTest.run(settings, upstream: upstream, to: to, from: from) { Swift.print($0) }
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        if !worked { throw ExitCode.failure }
    }
}
