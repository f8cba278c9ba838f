import Foundation
import Mailbox
import Routing
import Server

/// `relaygate check`: everything `serve` would refuse to start with, found without starting it.
public enum ConfigurationCheck {
    /// Problems, each worded as what is wrong and where; empty when all is well.
    public static func problems(_ settings: Settings) -> [String] {
        var problems: [String] = []
        let configuration = settings.configuration
        if let certificate = configuration.tls.certificate, let key = configuration.tls.key {
            do {
                _ = try TLSIdentity.load(certificate: certificate, key: key).makeServerContext()
            } catch {
                problems.append("TLS: \(error)")
            }
        }
        do {
            _ = try UsersFile.load(path: settings.usersFile)
        } catch {
            problems.append("users file: \(error)")
        }
        do {
            _ = try RoutingSetup.loadRules(settings)
        } catch let errors as RulesErrors {
            problems += errors.errors.map(\.description)
        } catch {
            problems.append("rules: \(error)")
        }
        // The very code `serve` runs, so the two can never disagree about a password file or variable.
        do {
            _ = try DeliverySetup.upstreams(configuration)
        } catch {
            problems.append("\(error)")
        }
        if let secrets = configuration.routing.srsSecretFile {
            do {
                _ = try SRSSecrets.load(path: secrets, create: false)
            } catch {
                problems.append("routing.srs_secret_file: \(error)")
            }
        }
        if settings.listeners.isEmpty {
            problems.append("no listeners: give --smtp, --smtps, --pop3 or --pop3s, or listen: in the config")
        }
        let spool = configuration.spool
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: spool, isDirectory: &isDirectory) {
            if !isDirectory.boolValue {
                problems.append("spool \(spool) is not a directory")
            } else if !FileManager.default.isWritableFile(atPath: spool) {
                problems.append("spool \(spool) is not writable by this user")
            }
        } else {
            let parent = (spool as NSString).deletingLastPathComponent
            if !FileManager.default.isWritableFile(atPath: parent.isEmpty ? "." : parent) {
                problems.append("spool \(spool) does not exist and cannot be created here")
            }
        }
        return problems
    }

    private static func rulesSummary(_ settings: Settings) -> String {
        guard let rules = try? RoutingSetup.loadRules(settings) else { return "not loadable" }
        let domains = rules.ourDomains.sorted()
        return "\(rules.ruleCount) in \(settings.rulesDirectory); our domains: "
            + (domains.isEmpty ? "none (only authorized clients may relay)" : domains.joined(separator: ", "))
    }

    public static func summary(_ settings: Settings) -> String {
        let configuration = settings.configuration
        let users = (try? UsersFile.load(path: settings.usersFile))?.entries.count ?? 0
        let upstreams = configuration.upstreams.isEmpty ? "none" : configuration.upstreams.keys.sorted().joined(separator: ", ")
        var lines: [String] = [
            "configuration OK (\(settings.configFileExists ? settings.configFile : "embedded defaults"))",
            "  hostname: \(configuration.hostname)",
            "  spool: \(configuration.spool)",
            "  listeners: " + settings.listeners.summary,
            "  tls: "
                + (configuration.tls.certificate.map { "certificate \($0)" } ?? "self-signed, generated under the spool"),
            "  users: \(users) in \(settings.usersFile)\(users == 0 ? " (AUTH not offered)" : "")",
            "  relay networks: " + configuration.smtp.relayNetworks.joined(separator: ", "),
            "  rules: \(rulesSummary(settings))",
            "  upstreams: \(upstreams)",
            "  max message size: \(configuration.smtp.maxMessageSize)",
        ]
        if !configuration.hostname.contains(".") {
            lines.append(
                "  note: hostname \"\(configuration.hostname)\" is not a fully qualified name; set hostname: or --hostname"
            )
        }
        return lines.joined(separator: "\n")
    }
}
