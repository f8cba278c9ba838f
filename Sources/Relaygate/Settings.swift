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
    /// --smtp / --smtps: any of them replaces the whole default listener set.
    public var smtp: [String] = []
    public var smtps: [String] = []
    public var tlsCertificate: String?
    public var tlsKey: String?

    public init() {}
}

/// The configuration in force: embedded defaults, then the file, then the command line.
public struct Settings: Sendable {
    public var configuration: RelaygateConfiguration
    public var configFile: String
    public var configFileExists: Bool
    public var rulesDirectory: String
    public var usersFile: String

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
        if !overrides.smtp.isEmpty || !overrides.smtps.isEmpty {
            for (flag, values) in [("--smtp", overrides.smtp), ("--smtps", overrides.smtps)] {
                for value in values where ListenAddress(value) == nil {
                    throw UsageError("\(flag) \(value): expected ADDRESS:PORT, such as 127.0.0.1:2525 or [::1]:2525")
                }
            }
            configuration.listen = .init(smtp: overrides.smtp, smtps: overrides.smtps, isDefault: false)
        }
        switch (overrides.tlsCertificate, overrides.tlsKey) {
        case (nil, nil): break
        case (let certificate?, let key?): configuration.tls = .init(certificate: certificate, key: key)
        default: throw UsageError("--tls-cert and --tls-key go together")
        }
        return Settings(
            configuration: configuration,
            configFile: configFile,
            configFileExists: FileManager.default.fileExists(atPath: configFile),
            rulesDirectory: rules,
            usersFile: configuration.usersFile ?? rules + "/users")
    }

    /// The listeners to bind. With the embedded defaults, IPv6 ones are optional (a host may have no IPv6).
    public var listeners: [SMTPServer.Listener] {
        let listen = configuration.listen
        return listen.smtp.compactMap(ListenAddress.init).map {
            SMTPServer.Listener(address: $0, implicitTLS: false, optional: listen.isDefault && $0.isIPv6)
        }
            + listen.smtps.compactMap(ListenAddress.init).map {
                SMTPServer.Listener(address: $0, implicitTLS: true, optional: listen.isDefault && $0.isIPv6)
            }
    }
}

/// A mistake on the command line, said plainly.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
