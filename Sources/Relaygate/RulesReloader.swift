import Logging
import Routing
import ServiceLifecycle
import UnixSignals

/// Reloads the rules on SIGHUP and when a rules file changes (checked every `interval`). A new set that does
/// not validate is refused as a whole: the old one keeps serving and the log says what is wrong, file:line.
/// Sessions in progress are not disturbed; their next RCPT sees the new rules.
struct RulesReloader: Service {
    let settings: Settings
    let router: RecipientRouter
    let secrets: [[UInt8]]
    let interval: Duration
    let logger: Logger
    /// The rules directory as it was just before the rules in force were loaded: any change after that
    /// moment is noticed, even one made before this service starts.
    let loadedFingerprint: [String]
    /// SIGHUP, trapped before the server says it is ready: one sent right after "ready" is not lost (nor,
    /// untrapped, fatal).
    let hangups: UnixSignalsSequence

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups {
                    reload(reason: "SIGHUP")
                }
            }
            group.addTask {
                var fingerprint = loadedFingerprint
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    let now = RulesLoader.fingerprint(directory: settings.rulesDirectory)
                    if now != fingerprint {
                        fingerprint = now
                        reload(reason: "rules changed")
                    }
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    func reload(reason: String) {
        do {
            let rules = try RoutingSetup.loadRules(settings)
            router.replace(with: RoutingSetup.router(settings, rules: rules, secrets: secrets))
            if let warning = RoutingSetup.noDomainsWarning(rules, directory: settings.rulesDirectory) {
                logger.warning("\(warning)")
            }
            logger.notice(
                "rules reloaded",
                metadata: ["reason": "\(reason)", "rules": "\(rules.ruleCount)", "domains": "\(rules.ourDomains.count)"])
        } catch {
            logger.error(
                "rules not reloaded; the previous rules stay in force",
                metadata: ["reason": "\(reason)", "error": "\(String(describing: error).split(separator: "\n").joined(separator: "; "))"])
        }
    }
}
