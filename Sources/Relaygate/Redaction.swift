import Delivery
import Mailbox
import Routing

// What the types that hold secrets print. ServiceLifecycle logs each service with "\(service)" at debug
// level, and a default description is every stored property, so a service holding the settings would
// print the upstream passwords, and one holding the router the SRS keys. Each type here says what it is,
// never what it holds. (SecretsTests runs a server at debug level and greps its log for every secret.)

extension ListenerService: CustomStringConvertible {
    var description: String { "ListenerService(smtp, pop3: \(pop3 != nil), imap: \(imap != nil))" }
}

extension RulesReloader: CustomStringConvertible {
    var description: String { "RulesReloader(rules: \(settings.rulesDirectory))" }
}

extension DeliveryService: CustomStringConvertible {
    var description: String { "DeliveryService" }
}

extension OperatorActionLog: CustomStringConvertible {
    var description: String { "OperatorActionLog(spool: \(spool.directory))" }
}

extension SinkReporter: CustomStringConvertible {
    var description: String { "SinkReporter" }
}

extension Settings: CustomStringConvertible {
    public var description: String { "Settings(config: \(configFile), rules: \(rulesDirectory))" }
}

extension RelaygateConfiguration.Upstream: CustomStringConvertible {
    public var description: String {
        "Upstream(hosts: \(hosts), tls: \(tls.rawValue), username: \(username ?? "none"), password: "
            + (password == nil && passwordEnvironment == nil && passwordFile == nil ? "none" : "<redacted>") + ")"
    }
}
