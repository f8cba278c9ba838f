import ArgumentParser
import Relaygate

@main
struct RelaygateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relaygate",
        abstract: "An SMTP relay and forwarding gateway.",
        subcommands: [
            ServeCommand.self, CheckCommand.self, RulesCommand.self, QueueCommand.self, RelayTestCommand.self,
            UsersCommand.self,
            BenchCommand.self,
        ])
}

/// --config, --rules and --spool: every subcommand that reads configuration takes them.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Configuration file (default: RULES/relaygate.yaml, optional).", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Rules directory (default: rules).", valueName: "dir"))
    var rules: String?

    @Option(name: .long, help: ArgumentHelp("Spool directory (default: spool).", valueName: "dir"))
    var spool: String?

    var overrides: CommandLineOverrides {
        var overrides = CommandLineOverrides()
        overrides.configFile = config
        overrides.rulesDirectory = rules
        overrides.spool = spool
        return overrides
    }

    func settings() throws -> Settings {
        do {
            return try Settings.resolve(overrides)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
