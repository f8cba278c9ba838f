import Foundation
import MailModel
import Routing

/// Builds the router from the settings: the rules directory, the relay networks, the SRS keys. Shared by
/// `serve`, `check` and `rules test`, so they decide alike.
enum RoutingSetup {
    static func srsSecretsPath(_ configuration: RelaygateConfiguration) -> String {
        configuration.routing.srsSecretFile ?? configuration.spool + "/srs-secrets"
    }

    static func relayPolicy(_ configuration: RelaygateConfiguration) -> RelayNetworksPolicy {
        RelayNetworksPolicy(trustedNetworks: configuration.smtp.relayNetworks.compactMap(IPNetwork.init))
    }

    /// - Parameter secrets: the SRS keys; nil reads (and with `createSecrets`, makes) the secrets file.
    static func router(_ settings: Settings, rules: RuleSet, secrets: [[UInt8]]) -> Router {
        let configuration = settings.configuration
        return Router(
            rules: rules, relay: relayPolicy(configuration),
            srs: SRS(secrets: secrets, maxAgeDays: Int(configuration.routing.srsMaxAge.duration.components.seconds / 86400)),
            hostname: configuration.hostname,
            subaddressDelimiter: configuration.routing.subaddressDelimiter.first,
            day: { Int(Date().timeIntervalSince1970 / 86400) })
    }

    /// The rules in force. A rules directory named with `--rules` must exist; the default `rules/` may be
    /// missing (no rules).
    static func loadRules(_ settings: Settings) throws -> RuleSet {
        try RulesLoader.load(
            directory: settings.rulesDirectory, required: settings.rulesDirectoryGiven,
            upstreams: Set(settings.configuration.upstreams.keys))
    }

    /// The warning for a rule set without a domain of ours, nil when it has some.
    static func noDomainsWarning(_ rules: RuleSet, directory: String) -> String? {
        guard rules.ourDomains.isEmpty else { return nil }
        return "the rules in \(directory) name no domain of ours: mail to any address is refused, except from "
            + "relay_networks and logged-in clients (who may relay); add rules such as `info@example.org you@gmail.com`"
    }
}
