import ArgumentParser
import Logging
import Relaygate

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Run the server: SMTP on 25, 2525 and 465 into the spool; POP3 on 110 and 995; IMAP on 143 and 993.",
        discussion: """
            With no file and no flags it runs on the embedded defaults. Any listener flag (--smtp, --smtps, \
            --pop3, --pop3s, --imap, --imaps) replaces the whole default listener set, so `relaygate serve --smtp 127.0.0.1:2525` runs just that listener, as any \
            user can. Stops cleanly on SIGTERM or SIGINT.
            """)

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("The name in greetings and Received headers.", valueName: "name"))
    var hostname: String?

    @Option(
        name: .customLong("smtp"),
        help: ArgumentHelp("Plain SMTP listener offering STARTTLS (repeatable).", valueName: "addr:port"))
    var smtp: [String] = []

    @Option(
        name: .customLong("smtps"),
        help: ArgumentHelp("Implicit-TLS SMTP listener (repeatable).", valueName: "addr:port"))
    var smtps: [String] = []

    @Option(
        name: .customLong("pop3"),
        help: ArgumentHelp("Plain POP3 listener offering STLS (repeatable).", valueName: "addr:port"))
    var pop3: [String] = []

    @Option(
        name: .customLong("pop3s"),
        help: ArgumentHelp("Implicit-TLS POP3 listener (repeatable).", valueName: "addr:port"))
    var pop3s: [String] = []

    @Option(
        name: .customLong("imap"),
        help: ArgumentHelp("Plain IMAP listener offering STARTTLS (repeatable).", valueName: "addr:port"))
    var imap: [String] = []

    @Option(
        name: .customLong("imaps"),
        help: ArgumentHelp("Implicit-TLS IMAP listener (repeatable).", valueName: "addr:port"))
    var imaps: [String] = []

    @Option(
        name: .customLong("port-offset"),
        help: ArgumentHelp(
            "Add N to every listener's port: the default set on 10025, 12525, 10465, ... with 10000, so it runs as "
                + "any user or beside another mail server.",
            valueName: "N"))
    var portOffset: Int?

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("PEM certificate chain.", valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key.", valueName: "file"))
    var tlsKey: String?

    func run() async throws {
        var overrides = common.overrides
        overrides.hostname = hostname
        overrides.smtp = smtp
        overrides.smtps = smtps
        overrides.pop3 = pop3
        overrides.pop3s = pop3s
        overrides.imap = imap
        overrides.imaps = imaps
        overrides.tlsCertificate = tlsCertificate
        overrides.tlsKey = tlsKey
        overrides.portOffset = portOffset
        let settings = try resolveSettings(overrides)
        let level = Logger.Level(rawValue: settings.configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { KeyValueLogHandler(label: $0, level: level) }
        let logger = Logger(label: "relaygate")
        do {
            try await Gateway.serve(settings, logger: logger)
        } catch {
            logger.critical("cannot run: \(error)")
            throw ExitCode.failure
        }
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration and exit non-zero with what to fix.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let settings = try common.settings()
        let problems = ConfigurationCheck.problems(settings)
        if problems.isEmpty {
            print(ConfigurationCheck.summary(settings))
            return
        }
        for problem in problems { printError(problem) }
        throw ExitCode.failure
    }
}
