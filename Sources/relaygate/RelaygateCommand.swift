import ArgumentParser
import Relaygate

@main
struct RelaygateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relaygate",
        abstract: "An SMTP relay and forwarding gateway.",
        version: RelaygateVersion.current,
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
        try resolveSettings(overrides)
    }
}

/// The settings, or the reason there are none: a mistake on the command line is a usage error (the usage
/// banner, exit status 64); one in the configuration file is a runtime error (one line, exit status 1).
func resolveSettings(_ overrides: CommandLineOverrides) throws -> Settings {
    do {
        return try Settings.resolve(overrides)
    } catch let error as UsageError {
        throw ValidationError(error.description)
    } catch {
        throw RuntimeError("\(error)")
    }
}

/// A failure while running, not a mistake in how the command was typed: ArgumentParser prints it in one
/// line, with no usage banner, and exits with status 1.
struct RuntimeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
