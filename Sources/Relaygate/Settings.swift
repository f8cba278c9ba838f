import Foundation
import MailModel
import Server

/// What the command line says, before it is merged with the configuration file.
public struct CommandLineOverrides: Sendable {
    /// --config FILE; default `RULES/relaygate.yaml`, optional unless given.
    public var configFile: String?
    /// --rules DIR; default `rules`.
    public var rulesDirectory: String?
    public var spool: String?
    public var hostname: String?
    /// --smtp / --smtps / --pop3 / --pop3s / --imap / --imaps: any of them replaces the whole default listener set.
    public var smtp: [String] = []
    public var smtps: [String] = []
    public var pop3: [String] = []
    public var pop3s: [String] = []
    public var imap: [String] = []
    public var imaps: [String] = []
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// --port-offset N: every listener's port plus N, so the whole default set can run beside another mail
    /// server, or as a user who may not bind ports below 1024 (and be tested as it ships).
    public var portOffset: Int?

    public init() {}
}

/// The configuration in force: embedded defaults, then the file, then the command line.
public struct Settings: Sendable {
    public var configuration: RelaygateConfiguration
    public var configFile: String
    public var configFileExists: Bool
    public var rulesDirectory: String
    public var usersFile: String
    /// Added to every listener's port (`--port-offset`); 0 normally.
    public var portOffset = 0
    /// The rules directory was named on the command line (`--rules`): then it must exist.
    public var rulesDirectoryGiven = false

    public static func resolve(_ overrides: CommandLineOverrides) throws -> Settings {
        let rules = overrides.rulesDirectory ?? "rules"
        let configFile = overrides.configFile ?? rules + "/relaygate.yaml"
        var configuration = try ConfigurationLoader.load(path: configFile, required: overrides.configFile != nil)
        if let hostname = overrides.hostname {
            guard Domain.isHostname(hostname) else {
                throw UsageError(
                    "--hostname \"\(hostname)\" is not a host name such as mx.example.org (letters, digits, hyphens, dots)")
            }
            configuration.hostname = hostname
        }
        if let spool = overrides.spool { configuration.spool = spool }
        let flags = [
            ("--smtp", overrides.smtp), ("--smtps", overrides.smtps), ("--pop3", overrides.pop3),
            ("--pop3s", overrides.pop3s), ("--imap", overrides.imap), ("--imaps", overrides.imaps),
        ]
        if flags.contains(where: { !$0.1.isEmpty }) {
            for (flag, values) in flags {
                for value in values where ListenAddress(value) == nil {
                    throw UsageError("\(flag) \(value): expected ADDRESS:PORT, such as 127.0.0.1:2525 or [::1]:2525")
                }
            }
            configuration.listen = .init(
                smtp: overrides.smtp, smtps: overrides.smtps, pop3: overrides.pop3, pop3s: overrides.pop3s,
                imap: overrides.imap, imaps: overrides.imaps, isDefault: false)
        }
        switch (overrides.tlsCertificate, overrides.tlsKey) {
        case (nil, nil): break
        case (let certificate?, let key?): configuration.tls = .init(certificate: certificate, key: key)
        default: throw UsageError("--tls-cert and --tls-key go together")
        }
        var settings = Settings(
            configuration: configuration,
            configFile: configFile,
            configFileExists: FileManager.default.fileExists(atPath: configFile),
            rulesDirectory: rules,
            usersFile: configuration.usersFile ?? rules + "/users")
        settings.rulesDirectoryGiven = overrides.rulesDirectory != nil
        if let offset = overrides.portOffset {
            settings.portOffset = offset
            let listen = configuration.listen
            for text in listen.smtp + listen.smtps + listen.pop3 + listen.pop3s + listen.imap + listen.imaps {
                guard let address = ListenAddress(text), address.port == 0 || (1...65535).contains(address.port + offset)
                else {
                    throw UsageError("--port-offset \(offset) moves \(text) outside the ports 1 to 65535")
                }
            }
        }
        return settings
    }

    /// The listeners to bind, per protocol. With the embedded defaults, IPv6 ones are optional (a host may
    /// have no IPv6).
    public var listeners: Listeners {
        let listen = configuration.listen
        func make(_ addresses: [String], implicitTLS: Bool) -> [ListenerSet.Listener] {
            addresses.compactMap(ListenAddress.init).map { address in
                let moved = address.port == 0 ? address : ListenAddress(host: address.host, port: address.port + portOffset)
                return ListenerSet.Listener(address: moved, implicitTLS: implicitTLS, optional: listen.isDefault && moved.isIPv6)
            }
        }
        return Listeners(
            smtp: make(listen.smtp, implicitTLS: false) + make(listen.smtps, implicitTLS: true),
            pop3: make(listen.pop3, implicitTLS: false) + make(listen.pop3s, implicitTLS: true),
            imap: make(listen.imap, implicitTLS: false) + make(listen.imaps, implicitTLS: true))
    }

    public struct Listeners: Sendable {
        public var smtp: [ListenerSet.Listener]
        public var pop3: [ListenerSet.Listener]
        public var imap: [ListenerSet.Listener] = []

        public var isEmpty: Bool { smtp.isEmpty && pop3.isEmpty && imap.isEmpty }

        /// "SMTP 0.0.0.0:25, 0.0.0.0:465 (TLS); POP3 …" for the configuration summary.
        public var summary: String {
            [("SMTP", smtp), ("POP3", pop3), ("IMAP", imap)].filter { !$0.1.isEmpty }.map { name, listeners in
                name + " " + listeners.map { "\($0.address)\($0.implicitTLS ? " (TLS)" : "")" }.joined(separator: ", ")
            }.joined(separator: "; ")
        }
    }
}

/// A mistake on the command line, said plainly.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
