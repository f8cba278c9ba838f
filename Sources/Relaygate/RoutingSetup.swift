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

    static func loadRules(_ settings: Settings) throws -> RuleSet {
        try RulesLoader.load(
            directory: settings.rulesDirectory, upstreams: Set(settings.configuration.upstreams.keys))
    }
}
