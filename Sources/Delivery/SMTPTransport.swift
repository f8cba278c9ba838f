import Logging
import MailModel
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol

/// A smarthost as relaygate.yaml defines it.
/// (Its description never shows the password.)
public struct Upstream: Sendable, CustomStringConvertible {
    public var name: String
    public var hosts: [(host: String, port: Int)]
    public var tls: SMTPClientSession.TLSPolicy
    public var username: String?
    public var password: String?
    public var verifyCertificate: Bool

    public var description: String {
        "Upstream(\(name), hosts: \(hosts.map { "\($0.host):\($0.port)" }), username: \(username ?? "none"), "
            + "password: \(password == nil ? "none" : "<redacted>"))"
    }

    public init(
        name: String, hosts: [(host: String, port: Int)], tls: SMTPClientSession.TLSPolicy, username: String?,
        password: String?, verifyCertificate: Bool
    ) {
        self.name = name
        self.hosts = hosts
        self.tls = tls
        self.username = username
        self.password = password
        self.verifyCertificate = verifyCertificate
    }
}

/// Delivers a job over SMTP to its next hop: an upstream's hosts in order, a literal host, or a domain's MX
/// hosts in preference order, moving to the next host when one fails before a transaction.
public final class SMTPTransport: Sendable {
    public struct Attempt: Sendable {
        public var results: [SMTPClientSession.RecipientResult]
        /// The host that answered last, as `host:port` (for the log line).
        public var relay: String
        /// Whether that host took the DSN parameters (and so reports successes itself).
        public var peerOffersDSN = false
    }

    /// What a batch came to: a result list per message, in order.
    public struct BatchAttempt: Sendable {
        public var results: [[SMTPClientSession.RecipientResult]]
        public var relay: String
        public var peerOffersDSN = false
    }

    private let group: any EventLoopGroup
    private let fileIO: NonBlockingFileIO
    private let heloName: String
    private let upstreams: [String: Upstream]
    private let resolver: any MXResolver
    private let verifying: NIOSSLContext
    private let opportunistic: NIOSSLContext
    private let logger: Logger
    private let threadPool: NIOThreadPool
    private let addressFamily: AddressFamilyPolicy
    let timeouts: SMTPClientHandler.Timeouts

    public init(
        group: any EventLoopGroup, threadPool: NIOThreadPool, heloName: String, upstreams: [Upstream],
        resolver: any MXResolver, addressFamily: AddressFamilyPolicy = .any, logger: Logger
    ) throws {
        self.group = group
        self.threadPool = threadPool
        self.fileIO = NonBlockingFileIO(threadPool: threadPool)
        self.addressFamily = addressFamily
        self.heloName = heloName
        self.upstreams = Dictionary(upstreams.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.resolver = resolver
        self.logger = logger
        self.timeouts = SMTPClientHandler.Timeouts()
        var strict = TLSConfiguration.makeClientConfiguration()
        strict.minimumTLSVersion = .tlsv12
        verifying = try NIOSSLContext(configuration: strict)
        var relaxed = strict
        // Opportunistic TLS to MX hosts: encryption without authentication beats plaintext (RFC 7435).
        relaxed.certificateVerification = .none
        opportunistic = try NIOSSLContext(configuration: relaxed)
    }

    /// An upstream's hosts, in the order they are tried, with its TLS and credentials.
    private static func candidates(_ upstream: Upstream) -> [Candidate] {
        upstream.hosts.map {
            Candidate(
                host: $0.host, port: $0.port, tls: upstream.tls, username: upstream.username,
                password: upstream.password, verify: upstream.verifyCertificate)
        }
    }

    struct Candidate: Sendable {
        var host: String
        var port: Int
        var tls: SMTPClientSession.TLSPolicy
        var username: String?
        var password: String?
        var verify: Bool
    }

    public func deliver(_ job: DeliveryJob, message: SMTPClientSession.Message, bodyPath: String) async -> Attempt {
        let batch = await deliver(to: job.nextHop, batch: [(message, bodyPath)])
        return Attempt(results: batch.results[0], relay: batch.relay, peerOffersDSN: batch.peerOffersDSN)
    }

    /// Several messages for one next hop over one connection (RSET between them): a result list per message,
    /// in order.
    public func deliver(to nextHop: NextHop, batch: [(message: SMTPClientSession.Message, bodyPath: String)]) async
        -> BatchAttempt
    {
        let candidates: [Candidate]
        switch nextHop {
        case .host(let host, let port):
            candidates = [Candidate(host: host, port: port, tls: .opportunistic, verify: false)]
        case .relay(let name):
            guard let upstream = upstreams[name] else {
                return failAll(batch, .init(stage: .connect, reply: nil, detail: "no upstream named \(name)", isPermanent: false), relay: name)
            }
            candidates = Self.candidates(upstream)
        case .mx(let domain):
            switch await resolver.mailHosts(for: domain) {
            case .hosts(let hosts):
                candidates = hosts.map { Candidate(host: $0, port: 25, tls: .opportunistic, verify: false) }
            case .failure(let detail, let permanent):
                return failAll(batch, .init(stage: .connect, reply: nil, detail: detail, isPermanent: permanent), relay: domain)
            }
        case .mailbox, .discard:
            preconditionFailure("not an SMTP job")
        }
        var lastFailure = SMTPClientSession.Failure(stage: .connect, reply: nil, detail: "no host to try", isPermanent: false)
        var lastRelay = "\(nextHop)"
        for candidate in candidates {
            var tries = [candidate]
            while let attempt = tries.popLast() {
                lastRelay = "\(attempt.host):\(attempt.port)"
                let outcome = await run(
                    attempt, messages: batch.map(\.message), bodyPaths: batch.map(\.bodyPath))
                if !outcome.finished.isEmpty {
                    // The transactions this connection finished have their results; any it did not reach (the
                    // connection broke half-way) wait for the next attempt.
                    let broken = outcome.connectionFailure
                        ?? .init(stage: .connect, reply: nil, detail: "connection ended early", isPermanent: false)
                    let rest = batch.dropFirst(outcome.finished.count).map { item in
                        item.message.recipients.map { _ in SMTPClientSession.RecipientResult.failed(broken) }
                    }
                    return BatchAttempt(
                        results: outcome.finished + rest, relay: lastRelay, peerOffersDSN: outcome.peerOffersDSN)
                }
                let failure = outcome.connectionFailure ?? lastFailure
                lastFailure = failure
                if failure.stage == .tls && attempt.tls == .opportunistic {
                    // A broken TLS stack at an MX: the mail still goes, in plaintext, and the log says so.
                    logger.warning(
                        "TLS failed with next hop; trying again without TLS",
                        metadata: ["relay": "\(lastRelay)", "error": "\(failure)"])
                    var plain = attempt
                    plain.tls = .never
                    tries.append(plain)
                } else {
                    logger.info("next hop failed", metadata: ["relay": "\(lastRelay)", "error": "\(failure)"])
                }
            }
        }
        return failAll(batch, lastFailure, relay: lastRelay)
    }

    private func failAll(
        _ batch: [(message: SMTPClientSession.Message, bodyPath: String)], _ failure: SMTPClientSession.Failure,
        relay: String
    ) -> BatchAttempt {
        BatchAttempt(results: batch.map { item in item.message.recipients.map { _ in .failed(failure) } }, relay: relay)
    }

    /// `relaygate relay-test`: walks an upstream's hosts in order through EHLO, TLS and AUTH, and sends
    /// `message` if given, reporting each line (AUTH data redacted) to `transcript`. Nil when a host went
    /// through; otherwise the last failure, which names its stage.
    public func probe(
        upstream name: String, message: SMTPClientSession.Message?, bodyPath: String,
        transcript: @escaping @Sendable (String) -> Void
    ) async -> SMTPClientSession.Failure? {
        guard let upstream = upstreams[name] else {
            return .init(stage: .connect, reply: nil, detail: "no upstream named \(name) in relaygate.yaml", isPermanent: true)
        }
        var last: SMTPClientSession.Failure?
        for candidate in Self.candidates(upstream) {
            transcript("connecting to \(candidate.host):\(candidate.port) (TLS: \(upstream.tls))")
            let outcome = await run(
                candidate, messages: message.map { [$0] } ?? [], bodyPaths: [bodyPath], transcript: transcript)
            if let failure = outcome.connectionFailure {
                last = failure
                continue
            }
            if let results = outcome.results, case .failed(let failure)? = results.first {
                return failure
            }
            return nil
        }
        return last
    }

    private func run(
        _ candidate: Candidate, messages: [SMTPClientSession.Message], bodyPaths: [String],
        transcript: (@Sendable (String) -> Void)? = nil
    ) async -> SMTPClientHandler.Outcome {
        var session = SMTPClientSession(
            configuration: .init(
                heloName: heloName, tls: candidate.tls, username: candidate.username, password: candidate.password))
        for message in messages { session.send(message) }
        session.finish()
        let contents = zip(messages, bodyPaths).map { message, path in (path: path, length: message.size) }
        let host = candidate.host
        let port = candidate.port
        let addresses = addressFamily.order(
            (try? await threadPool.runIfActive { AddressFamilyPolicy.resolve(host, port: port) }) ?? [])
        guard !addresses.isEmpty else {
            let detail = "\(host): no \(addressFamily == .any ? "" : addressFamily.rawValue + " ")address to connect to"
            return .init(connectionFailure: .init(stage: .connect, reply: nil, detail: detail, isPermanent: false), tls: false)
        }
        var lastError = "no address"
        // Every address of the host, in order, before the caller moves to the next host.
        for address in addresses {
            let loop = group.next()
            let promise = loop.makePromise(of: SMTPClientHandler.Outcome.self)
            let tlsContext = candidate.verify ? verifying : opportunistic
            let serverName = IPAddress(host) == nil ? host : nil
            let configuredSession = session
            let timeouts = self.timeouts
            let fileIO = self.fileIO
            let bootstrap = ClientBootstrap(group: loop)
                .connectTimeout(.seconds(30))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if candidate.tls == .implicit {
                            try channel.pipeline.syncOperations.addHandler(
                                try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            SMTPClientHandler(
                                session: configuredSession, contents: contents, fileIO: fileIO,
                                tlsContext: tlsContext, serverName: serverName, timeouts: timeouts, promise: promise,
                                transcript: transcript))
                    }
                }
            do {
                _ = try await bootstrap.connect(to: address).get()
            } catch {
                lastError = Self.connectFailure(address, error)
                // The handler never went active, so nothing else completes its promise.
                promise.succeed(.init(connectionFailure: nil, tls: false))
                continue
            }
            return (try? await promise.futureResult.get())
                ?? .init(connectionFailure: .init(stage: .connect, reply: nil, detail: "lost", isPermanent: false), tls: false)
        }
        return .init(connectionFailure: .init(stage: .connect, reply: nil, detail: lastError, isPermanent: false), tls: false)
    }

    /// "192.0.2.7:25: Connection refused": what an operator reads in `queue show` and the log, rather than
    /// NIO's descriptions of its own types.
    static func connectFailure(_ address: SocketAddress, _ error: any Error) -> String {
        let host = address.ipAddress.map { address.protocol == .inet6 ? "[\($0)]" : $0 }
        let place = host.map { "\($0):\(address.port ?? 0)" } ?? "\(address)"
        switch error {
        case let error as IOError: return "\(place): \(String(cString: strerror(error.errnoCode)))"
        case ChannelError.connectTimeout: return "\(place): no answer to the connection attempt (timed out)"
        default: return "\(place): \(error)"
        }
    }
}
