import Foundation
import Relaygate
import Testing

@Suite struct ConfigurationTests {
    func parse(_ yaml: String) throws(ConfigurationError) -> RelaygateConfiguration {
        try ConfigurationLoader.parse(yaml, file: "rules/relaygate.yaml")
    }

    @Test func emptyFileMeansDefaults() throws {
        let configuration = try parse("")
        #expect(configuration == RelaygateConfiguration())
        #expect(configuration.smtp.maxMessageSize.octets == 50 << 20)
        #expect(configuration.smtp.relayNetworks == ["127.0.0.0/8", "::1/128"])
        #expect(configuration.listen.smtp == ["0.0.0.0:25", "[::]:25", "0.0.0.0:2525", "[::]:2525"])
        #expect(configuration.listen.smtps == ["0.0.0.0:465", "[::]:465"])
    }

    @Test func readsEverySection() throws {
        let configuration = try parse(
            """
            hostname: mx.example.org
            spool: /var/spool/relaygate
            users_file: /etc/relaygate/users
            tls:
              certificate: /etc/cert.pem
              key: /etc/key.pem
            listen:
              smtp: ["127.0.0.1:2525"]
            smtp:
              max_message_size: 10MiB
              max_recipients: 50
              command_timeout: 2m
              data_timeout: 90s
              min_data_rate: 512
              relay_networks: [10.0.0.0/8, "2001:db8::/32"]
            auth:
              max_failures: 3
              failure_delay: 500ms
            shutdown_grace: 30s
            log_level: debug
            """)
        #expect(configuration.hostname == "mx.example.org")
        #expect(configuration.usersFile == "/etc/relaygate/users")
        #expect(configuration.tls.certificate == "/etc/cert.pem")
        #expect(configuration.listen.smtp == ["127.0.0.1:2525"])
        #expect(configuration.listen.smtps.isEmpty, "naming listeners replaces the default set")
        #expect(configuration.smtp.maxMessageSize.octets == 10 << 20)
        #expect(configuration.smtp.commandTimeout.duration == .seconds(120))
        #expect(configuration.smtp.dataTimeout.duration == .seconds(90))
        #expect(configuration.smtp.minDataRate.octets == 512)
        #expect(configuration.auth.failureDelay.duration == .milliseconds(500))
        #expect(configuration.shutdownGrace.duration == .seconds(30))
    }

    @Test(arguments: [
        ("hostname: a\nsmtpp:\n  x: 1\n", 2, "smtpp", "unknown key"),
        ("smtp:\n  max_recipients: 10\n  max_recipient: 5\n", 3, "smtp.max_recipient", "unknown key"),
        ("smtp:\n  max_recipients: many\n", 2, "smtp.max_recipients", "expected a whole number"),
        ("smtp:\n  max_recipients: 0\n", 2, "smtp.max_recipients", "above 0"),
        ("smtp:\n  max_message_size: 10 furlongs\n", 2, "smtp.max_message_size", "expected a size"),
        ("smtp:\n  command_timeout: soon\n", 2, "smtp.command_timeout", "expected a time"),
        ("smtp:\n  relay_networks:\n    - 10.0.0.0/8\n    - 10.0.0.1/8\n", 4, "smtp.relay_networks[1]", "host bits"),
        ("listen:\n  smtp: [\"localhost\"]\n", 2, "listen.smtp[0]", "ADDRESS:PORT"),
        ("tls:\n  certificate: /x.pem\n", 2, "tls.certificate", "key is missing"),
        ("log_level: loud\n", 1, "log_level", "must be one of"),
        ("smtp:\n  max_line_length: 100\n", 2, "smtp.max_line_length", "at least 512"),
        ("smtp:\n  max_message_size: 0\n", 2, "smtp.max_message_size", "above 0"),
        ("hostname: mx_1.example.org\n", 1, "hostname", "must be a host name"),
        ("upstreams:\n  provider:\n    hosts: []\n", 3, "upstreams.provider.hosts", "at least one"),
        ("upstreams:\n  p:\n    hosts: [\"smtp.example.com\"]\n", 3, "upstreams.p.hosts[0]", "HOST:PORT"),
        ("upstreams:\n  p:\n    hosts: [\"a.example:587\"]\n    tls: maybe\n", 4, "upstreams.p.tls", "starttls"),
        ("upstreams:\n  p:\n    hosts: [\"a.example:587\"]\n    username: u\n", 4, "upstreams.p.username", "needs password"),
        ("upstreams:\n  p:\n    hosts: [\"a.example:587\"]\n    passwd: x\n", 4, "upstreams.p.passwd", "unknown key"),
        ("upstreams:\n  p:\n    hosts: [\"a.example:587\"]\n    tls_fingerprint: ab:cd\n", 4, "upstreams.p.tls_fingerprint", "SHA-256"),
        ("upstreams:\n  p:\n    hosts: [\"a.example:25\"]\n    tls: none\n    username: u\n    password: p\n", 4, "upstreams.p.tls", "plaintext"),
        ("upstreams:\n  p:\n    hosts: [\"a.example:587\"]\n    verify_certificate: false\n    tls_ca_file: /ca.pem\n", 4,
         "upstreams.p.verify_certificate", "drop one"),
        ("routing:\n  subaddress_delimiter: \"++\"\n", 2, "routing.subaddress_delimiter", "one character"),
        ("routing:\n  srs_max_age: 1h\n", 2, "routing.srs_max_age", "at least 1d"),
        ("hostname: -mx.example.org\n", 1, "hostname", "must be a host name"),
        ("hostname: mx..example.org\n", 1, "hostname", "must be a host name"),
        ("hostname: \"[192.0.2.1]\"\n", 1, "hostname", "must be a host name"),
        ("pop3:\n  max_connections: 0\n", 2, "pop3.max_connections", "above 0"),
        ("imap:\n  idle_timeout: 0s\n", 2, "imap.idle_timeout", "above 0"),
        ("imap:\n  idle: 1m\n", 2, "imap.idle", "unknown key"),
    ])
    func errorsNameTheLineAndTheKey(_ yaml: String, _ line: Int, _ key: String, _ message: String) {
        #expect {
            try parse(yaml)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.line == line && error.key == key && error.message.contains(message)
                && error.description.hasPrefix("rules/relaygate.yaml:\(line): \(key): ")
        }
    }

    @Test func aMailboxAccessSectionKeepsItsProtocolsDefaults() throws {
        let configuration = try parse("imap:\n  max_connections: 7\n")
        #expect(configuration.imap.maxConnections == 7)
        #expect(configuration.imap.idleTimeout == RelaygateConfiguration.MailboxAccessSettings.imap.idleTimeout)
        #expect(configuration.pop3 == .pop3)
    }

    @Test func badYAMLNamesTheLine() {
        #expect {
            try parse("smtp:\n  max_recipients: [1\n")
        } throws: { error in
            (error as? ConfigurationError)?.message.hasPrefix("not valid YAML") == true
                && (error as? ConfigurationError)?.line != nil
        }
        #expect(throws: ConfigurationError.self) { try parse("- just\n- a list\n") }
    }

    @Test func missingFileIsFineUnlessNamed() throws {
        #expect(
            try ConfigurationLoader.load(path: "/nonexistent/relaygate.yaml", required: false)
                == RelaygateConfiguration())
        #expect(
            throws: ConfigurationError(
                file: "/nonexistent/relaygate.yaml", line: nil, key: nil, message: "file not found")
        ) {
            try ConfigurationLoader.load(path: "/nonexistent/relaygate.yaml", required: true)
        }
    }

    @Test(arguments: [("50MiB", 50 << 20), ("64k", 64 << 10), ("1G", 1 << 30), ("100", 100), ("7 KiB", 7 << 10)])
    func byteSizes(_ text: String, _ octets: Int) {
        #expect(ByteSize(text)?.octets == octets)
    }

    @Test(arguments: ["", "MiB", "-1", "1.5M", "99999999999999999999G"])
    func badByteSizes(_ text: String) {
        #expect(ByteSize(text) == nil)
    }

    @Test(arguments: [
        ("30", Duration.seconds(30)), ("5m", .seconds(300)), ("250ms", .milliseconds(250)), ("2h", .seconds(7200)),
        ("5d", .seconds(432_000)),
    ])
    func timeSpans(_ text: String, _ duration: Duration) {
        #expect(TimeSpan(text)?.duration == duration)
    }
}

@Suite struct CommandLineOverrideTests {
    @Test func listenerFlagsReplaceTheWholeDefaultSet() throws {
        var overrides = CommandLineOverrides()
        overrides.rulesDirectory = "/nonexistent-rules"
        overrides.smtp = ["127.0.0.1:2525"]
        let settings = try Settings.resolve(overrides)
        #expect(settings.listeners.smtp.map(\.address.description) == ["127.0.0.1:2525"])
        #expect(settings.listeners.smtp.allSatisfy { !$0.optional })
        #expect(settings.listeners.pop3.isEmpty, "no POP3 listener unless asked for")
        #expect(settings.usersFile == "/nonexistent-rules/users")
        #expect(settings.configFile == "/nonexistent-rules/relaygate.yaml")
    }

    @Test func defaultsBindEverythingWithIPv6Optional() throws {
        var overrides = CommandLineOverrides()
        overrides.rulesDirectory = "/nonexistent-rules"
        let listeners = try Settings.resolve(overrides).listeners
        #expect(listeners.smtp.count == 6)
        #expect(listeners.smtp.filter(\.implicitTLS).map(\.address.port) == [465, 465])
        #expect(listeners.smtp.filter(\.optional).map(\.address.host) == ["::", "::", "::"])
        #expect(listeners.pop3.map(\.address.port) == [110, 110, 995, 995])
        #expect(listeners.pop3.filter(\.implicitTLS).map(\.address.port) == [995, 995])
    }

    @Test func aPOP3FlagAloneRunsJustPOP3() throws {
        var overrides = CommandLineOverrides()
        overrides.rulesDirectory = "/nonexistent-rules"
        overrides.pop3s = ["127.0.0.1:9950"]
        let listeners = try Settings.resolve(overrides).listeners
        #expect(listeners.smtp.isEmpty)
        #expect(listeners.pop3.map(\.address.description) == ["127.0.0.1:9950"])
        #expect(listeners.pop3.allSatisfy { $0.implicitTLS })
    }

    @Test func badFlagsAreExplained() {
        var overrides = CommandLineOverrides()
        overrides.rulesDirectory = "/nonexistent-rules"
        overrides.smtps = ["465"]
        #expect(throws: UsageError.self) { try Settings.resolve(overrides) }
        overrides.smtps = []
        overrides.tlsCertificate = "cert.pem"
        #expect(throws: UsageError.self) { try Settings.resolve(overrides) }
        overrides.tlsCertificate = nil
        overrides.configFile = "/nonexistent-rules/custom.yaml"
        #expect(throws: ConfigurationError.self) { try Settings.resolve(overrides) }
    }

    @Test func theShippedExampleIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let configuration = try ConfigurationLoader.load(
            path: root.appendingPathComponent("rules/relaygate.example.yaml").path, required: true)
        #expect(configuration.hostname == "mx.example.org")
    }

    @Test func upstreamsAndRouting() throws {
        let configuration = try ConfigurationLoader.parse(
            """
            upstreams:
              provider:
                hosts: ["smtp.provider.example:587", "[2001:db8::25]:465"]
                tls: implicit
                username: me@example.org
                password_env: PROVIDER_PASSWORD
                verify_certificate: false
            routing:
              subaddress_delimiter: "-"
              srs_max_age: 30d
            """, file: "relaygate.yaml")
        let provider = try #require(configuration.upstreams["provider"])
        #expect(provider.hosts.count == 2)
        #expect(provider.tls == .implicit)
        #expect(provider.passwordEnvironment == "PROVIDER_PASSWORD")
        #expect(!provider.verifyCertificate)
        #expect(configuration.routing.subaddressDelimiter == "-")
        #expect(configuration.routing.srsMaxAge.duration == .seconds(30 * 86400))
    }

    @Test func anUpstreamCanBePinnedOrGivenACAOrAllowedPlaintextAuth() throws {
        let configuration = try ConfigurationLoader.parse(
            """
            upstreams:
              pinned:
                hosts: ["smtp.example.net:587"]
                tls_fingerprint: "sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"
              private:
                hosts: ["smtp.example.net:465"]
                tls: implicit
                tls_ca_file: /etc/relaygate/private-ca.pem
              lan:
                hosts: ["10.0.0.5:25"]
                tls: none
                username: u
                password: p
                allow_plaintext_auth: true
            """, file: "relaygate.yaml")
        let pin = try #require(configuration.upstreams["pinned"]?.tlsFingerprints.first)
        #expect(pin == [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF] + [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
        ])
        #expect(configuration.upstreams["private"]?.tlsCAFile == "/etc/relaygate/private-ca.pem")
        #expect(configuration.upstreams["lan"]?.allowPlaintextAuth == true)
    }

    @Test(arguments: ["forward-domain", "blocked-port-25", "smarthost"])
    func theREADMERecipesAreValid(_ recipe: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/recipes/" + recipe)
        let configuration = try ConfigurationLoader.load(
            path: root.appendingPathComponent("relaygate.yaml").path, required: true)
        let rules = try RulesLoader.load(directory: root.path, upstreams: Set(configuration.upstreams.keys))
        #expect(rules.ruleCount > 0)
    }

    @Test func theShippedRulesLoad() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let rules = try RulesLoader.load(directory: root.appendingPathComponent("rules").path, upstreams: [])
        #expect(rules.ourDomains == ["localhost"])
    }

    @Test func flagsWinOverTheFile() throws {
        var overrides = CommandLineOverrides()
        overrides.rulesDirectory = "/nonexistent-rules"
        overrides.hostname = "relay.example"
        overrides.spool = "/tmp/spool-x"
        overrides.tlsCertificate = "c.pem"
        overrides.tlsKey = "k.pem"
        let configuration = try Settings.resolve(overrides).configuration
        #expect(configuration.hostname == "relay.example")
        #expect(configuration.spool == "/tmp/spool-x")
        #expect(configuration.tls.key == "k.pem")
    }
}
