import Delivery
import FileSupport
import Foundation
import Logging
import MailModel
import NIOCore
import NIOPosix
import Routing
import SMTPProtocol
import ServiceLifecycle
import Spool

/// Builds delivery from the settings: the upstreams with their passwords, the retry policy, and the way
/// bounces are queued (routed like any other mail, so a bounce to an SRS address goes back through it).
enum DeliverySetup {
    static func retryPolicy(_ configuration: RelaygateConfiguration) -> RetryPolicy {
        var policy = RetryPolicy()
        policy.firstRetry = configuration.delivery.firstRetry.duration
        policy.maximumInterval = configuration.delivery.maxRetryInterval.duration
        policy.lifetime = configuration.delivery.lifetime.duration
        policy.delayWarning = configuration.delivery.delayWarning.duration
        return policy
    }

    static func dnsServer(_ configuration: RelaygateConfiguration) -> (address: String, port: Int)? {
        guard let text = configuration.delivery.dnsServer, let colon = text.lastIndex(of: ":"),
            let port = Int(text[text.index(after: colon)...])
        else { return nil }
        return (String(text[..<colon]), port)
    }

    static func mailboxRoot(_ configuration: RelaygateConfiguration) -> String {
        configuration.delivery.mailboxes ?? configuration.spool + "/mailboxes"
    }

    /// The upstreams, with each password read from where the configuration says.
    static func upstreams(_ configuration: RelaygateConfiguration) throws -> [Upstream] {
        try configuration.upstreams.sorted(by: { $0.key < $1.key }).map { name, settings in
            var password = settings.password
            if let variable = settings.passwordEnvironment {
                guard let value = ProcessInfo.processInfo.environment[variable] else {
                    throw StartupError(
                        "upstreams.\(name).password_env: the environment variable \(variable) is not set")
                }
                password = value
            }
            if let file = settings.passwordFile {
                let bytes: [UInt8]
                do throws(FileSystemError) {
                    bytes = try FileSystem.readFile(file, limit: 64 * 1024)
                } catch {
                    throw StartupError("upstreams.\(name).password_file: \(file) \(error.reason)")
                }
                password = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
                guard password?.isEmpty == false else {
                    throw StartupError(
                        "upstreams.\(name).password_file: \(file) is empty; put the password on its first line")
                }
            }
            let hosts = settings.hosts.map { text -> (host: String, port: Int) in
                let colon = text.lastIndex(of: ":")!
                var host = String(text[..<colon])
                if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
                return (host, Int(text[text.index(after: colon)...])!)
            }
            let tls: SMTPClientSessionTLS =
                switch settings.tls {
                case .starttls: .required
                case .implicit: .implicit
                case .none: .never
                }
            return Upstream(
                name: name, hosts: hosts, tls: tls, username: settings.username, password: password,
                trust: trust(settings))
        }
    }

    /// How an upstream's certificate is checked. The loader has refused the settings that contradict
    /// each other (a pin with a CA file, either with `verify_certificate: false`).
    static func trust(_ settings: RelaygateConfiguration.Upstream) -> UpstreamTrust {
        if !settings.verifyCertificate { return .none }
        if !settings.tlsFingerprints.isEmpty { return .fingerprints(settings.tlsFingerprints) }
        if let file = settings.tlsCAFile { return .caFile(file) }
        return .system
    }

    struct BounceRefused: Error, CustomStringConvertible {
        let description: String
    }

    /// Queues a DSN as a new message from `<>`, its recipient resolved by the rules like any other.
    static func notificationQueue(spool: Spool, router: RecipientRouter, hostname: String)
        -> DeliveryAgent.NotificationQueue
    {
        { original, dsn in
            guard let sender = original.sender.address else { return nil }
            let context = SubmissionContext(clientAddress: nil, authenticatedUser: nil, sender: .null, isLocal: true)
            let destinations: [Destination]
            switch router.router.resolve(sender, for: context).decision {
            case .accept(let accepted): destinations = accepted
            case .refuse(let reply): throw BounceRefused(description: "the rules refuse the bounce recipient: \(reply)")
            }
            let full = original.parameters.returnContent == .full && original.size <= 10 << 20
            let limit = min(original.size, full ? .max : 256 * 1024)
            // An original that cannot be read still gets its bounce, without the quote.
            let content = (try? spool.content(for: original).prefix(limit)) ?? []
            let bytes = dsn.render(originalContent: content, boundaryToken: QueueID.now().rawValue)
            let id = QueueID.now()
            let writer = spool.makeWriter(for: id)
            try writer.write(bytes)
            let envelope = Envelope(
                queueID: id, sender: .null,
                recipients: destinations.map {
                    Recipient(address: $0.address, route: $0.route, rule: $0.rule, sender: nil)
                },
                parameters: MailParameters(), arrival: Date(timeIntervalSince1970: Double(dsn.now)),
                size: bytes.count,
                has8BitContent: bytes.contains { $0 >= 0x80 },
                client: ClientFacts(
                    address: "local", port: nil, helo: hostname, protocolName: "local", tlsVersion: nil,
                    authenticatedUser: nil),
                receivedBy: hostname)
            try writer.commit(envelope)
            return envelope
        }
    }
}

typealias SMTPClientSessionTLS = SMTPClientSession.TLSPolicy

/// Runs the delivery agent until the server stops. A stop lets deliveries in flight finish for `grace`
/// and records their outcomes; what still runs then is cut off and put back in incoming/, untried, so
/// nothing the next hop accepted is sent again.
struct DeliveryService: Service {
    let agent: DeliveryAgent
    let grace: Duration

    func run() async throws {
        await withGracefulShutdownHandler {
            await agent.run(grace: grace)
        } onGracefulShutdown: {
            agent.stop()
        }
    }
}
