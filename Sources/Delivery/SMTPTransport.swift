import Logging
import MailModel
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol
import Spool
import Synchronization

/// A smarthost as relaygate.yaml defines it.
/// (Its description never shows the password.)
public struct Upstream: Sendable, CustomStringConvertible {
    public var name: String
    public var hosts: [(host: String, port: Int)]
    public var tls: SMTPClientSession.TLSPolicy
    public var username: String?
    public var password: String?
    public var trust: UpstreamTrust

    public var description: String {
        "Upstream(\(name), hosts: \(hosts.map { "\($0.host):\($0.port)" }), username: \(username ?? "none"), "
            + "password: \(password == nil ? "none" : "<redacted>"))"
    }

    public init(
        name: String, hosts: [(host: String, port: Int)], tls: SMTPClientSession.TLSPolicy, username: String?,
        password: String?, trust: UpstreamTrust
    ) {
        self.name = name
        self.hosts = hosts
        self.tls = tls
        self.username = username
        self.password = password
        self.trust = trust
    }
}

/// Delivers a job over SMTP to its next hop: an upstream's hosts in order, a literal host, or a domain's MX
/// hosts in preference order, moving to the next host when one fails before a transaction.
public final class SMTPTransport: Sendable {
    /// The connection that carried a message, for its log line: which host at which address, and how.
    public struct ConnectionFacts: Sendable, Equatable {
        /// `mx.example.com[192.0.2.7]:25`, or the next hop itself when no connection was made.
        public var relay: String
        /// The host that answered (`mx.example.com`), when one did: a DSN's Remote-MTA.
        public var remoteHost: String?
        /// "TLSv1.3", when TLS was used.
        public var tlsVersion: String?
        /// Whether the server's certificate was verified (against the system's CAs, a CA file or a pin).
        public var verified = false
        /// Whether the server took the DSN parameters (and so reports successes itself).
        public var peerOffersDSN = false

        public init(
            relay: String, remoteHost: String? = nil, tlsVersion: String? = nil, verified: Bool = false,
            peerOffersDSN: Bool = false
        ) {
            self.relay = relay
            self.remoteHost = remoteHost
            self.tlsVersion = tlsVersion
            self.verified = verified
            self.peerOffersDSN = peerOffersDSN
        }
    }

    /// Called once for every message of a batch: as soon as its final reply arrives, or, for those the
    /// connection never reached, when the attempt ends.
    public typealias Report =
        @Sendable (
            _ index: Int, _ results: [SMTPClientSession.RecipientResult], _ connection: ConnectionFacts
        ) -> Void

    private let group: any EventLoopGroup
    private let fileIO: NonBlockingFileIO
    private let heloName: String
    private let upstreams: [String: Upstream]
    private let resolver: any MXResolver
    /// Each upstream's TLS context, made once: its trust (system, CA file, pin, none) is in it.
    private let upstreamContexts: [String: NIOSSLContext]
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
        var contexts: [String: NIOSSLContext] = [:]
        for upstream in upstreams {
            contexts[upstream.name] = try OutboundTLS.context(for: upstream.trust, upstream: upstream.name)
        }
        upstreamContexts = contexts
        // Opportunistic TLS to MX hosts: encryption without authentication beats plaintext (RFC 7435).
        opportunistic = try OutboundTLS.context(for: .none, upstream: "")
    }

    /// An upstream's hosts, in the order they are tried, with its TLS and credentials.
    private func candidates(_ upstream: Upstream) -> [Candidate] {
        upstream.hosts.map {
            Candidate(
                host: $0.host, port: $0.port, tls: upstream.tls, username: upstream.username,
                password: upstream.password, trust: upstream.trust,
                context: upstreamContexts[upstream.name] ?? opportunistic)
        }
    }

    struct Candidate: Sendable {
        var host: String
        var port: Int
        var tls: SMTPClientSession.TLSPolicy
        var username: String?
        var password: String?
        var trust = UpstreamTrust.none
        var context: NIOSSLContext
    }

    /// Carries messages for one next hop over one connection (RSET between them), reporting each message's
    /// results through `report` as they come. A host that fails before the first transaction gives way to
    /// the next; once a transaction is done, the messages not reached wait for the next attempt. Cancelling
    /// the task closes the connection (a stop's grace is over).
    public func deliver(
        to nextHop: NextHop, batch: [(message: SMTPClientSession.Message, content: MessageContent)],
        report: @escaping Report
    ) async {
        let candidates: [Candidate]
        switch nextHop {
        case .host(let host, let port):
            candidates = [Candidate(host: host, port: port, tls: .opportunistic, context: opportunistic)]
        case .relay(let name):
            guard let upstream = upstreams[name] else {
                let failure = SMTPClientSession.Failure(
                    stage: .connect, reply: nil, detail: "no upstream named \(name)", isPermanent: false)
                return failAll(batch, from: 0, failure, ConnectionFacts(relay: name), report)
            }
            candidates = self.candidates(upstream)
        case .mx(let domain):
            switch await resolver.mailHosts(for: domain) {
            case .hosts(let hosts):
                candidates = hosts.map { Candidate(host: $0, port: 25, tls: .opportunistic, context: opportunistic) }
            case .failure(let detail, let permanent, let status):
                let failure = SMTPClientSession.Failure(
                    stage: .dns, reply: nil, detail: detail, isPermanent: permanent, status: status)
                return failAll(batch, from: 0, failure, ConnectionFacts(relay: domain), report)
            }
        case .mailbox, .discard:
            preconditionFailure("not an SMTP job")
        }
        var lastFailure = SMTPClientSession.Failure(
            stage: .connect, reply: nil, detail: "no host to try", isPermanent: false)
        var lastFacts = ConnectionFacts(relay: "\(nextHop)")
        var hostsNotFound = 0
        for candidate in candidates {
            var tries = [candidate]
            while let attempt = tries.popLast(), !Task.isCancelled {
                let outcome = await run(
                    attempt, messages: batch.map(\.message), contents: batch.map(\.content), report: report)
                lastFacts = outcome.facts
                if !outcome.handler.finished.isEmpty {
                    // The transactions this connection finished are reported; any it did not reach (the
                    // connection broke half-way) wait for the next attempt.
                    let broken =
                        outcome.handler.connectionFailure
                        ?? .init(stage: .connect, reply: nil, detail: "connection ended early", isPermanent: false)
                    return failAll(batch, from: outcome.handler.finished.count, broken, outcome.facts, report)
                }
                let failure = outcome.handler.connectionFailure ?? lastFailure
                lastFailure = failure
                if outcome.hostNotFound { hostsNotFound += 1 }
                if failure.stage == .tls && attempt.tls == .opportunistic {
                    // A broken TLS stack at an MX: the mail still goes, in plaintext, and the log says so.
                    logger.warning(
                        "TLS failed with next hop; trying again without TLS",
                        metadata: ["relay": "\(outcome.facts.relay)", "error": "\(failure)"])
                    var plain = attempt
                    plain.tls = .never
                    tries.append(plain)
                } else {
                    logger.info(
                        "next hop failed", metadata: ["relay": "\(outcome.facts.relay)", "error": "\(failure)"])
                }
            }
        }
        if case .mx(let domain) = nextHop, hostsNotFound == candidates.count, !candidates.isEmpty {
            // Every mail host is a name that does not exist, or has no address: no retry will find one
            // (RFC 3463 X.4.4, unable to route; Postfix bounces these too).
            lastFailure = .init(
                stage: .dns, reply: nil,
                detail: candidates.count == 1 && candidates[0].host == domain
                    ? "\(domain) has no MX and no address records"
                    : "no mail host of \(domain) exists in DNS (\(candidates.map(\.host).joined(separator: ", ")))",
                isPermanent: true, status: EnhancedStatusCode(5, 4, 4))
        }
        failAll(batch, from: 0, lastFailure, lastFacts, report)
    }

    private func failAll(
        _ batch: [(message: SMTPClientSession.Message, content: MessageContent)], from start: Int,
        _ failure: SMTPClientSession.Failure, _ facts: ConnectionFacts, _ report: Report
    ) {
        for index in batch.indices.dropFirst(start) {
            report(index, batch[index].message.recipients.map { _ in .failed(failure) }, facts)
        }
    }

    /// `relaygate relay-test`: walks an upstream's hosts in order through EHLO, TLS and AUTH, and sends
    /// `message` if given, reporting each line (AUTH data redacted) to `transcript`. The facts of the first
    /// connection that went through (TLS or not); otherwise the last failure, which names its stage.
    public func probe(
        upstream name: String, message: SMTPClientSession.Message?, content: MessageContent,
        transcript: @escaping @Sendable (String) -> Void
    ) async -> Result<ConnectionFacts, SMTPClientSession.Failure> {
        guard let upstream = upstreams[name] else {
            return .failure(
                .init(
                    stage: .connect, reply: nil, detail: "no upstream named \(name) in relaygate.yaml",
                    isPermanent: true))
        }
        var last: SMTPClientSession.Failure?
        for candidate in candidates(upstream) {
            transcript("connecting to \(candidate.host):\(candidate.port) (TLS: \(upstream.tls))")
            let outcome = await run(
                candidate, messages: message.map { [$0] } ?? [], contents: [content], transcript: transcript)
            if let failure = outcome.handler.connectionFailure {
                last = failure
                transcript("\(candidate.host):\(candidate.port) failed at \(failure.stage.rawValue): \(failure)")
                continue
            }
            if let version = outcome.facts.tlsVersion {
                transcript("TLS: \(version), certificate \(outcome.facts.verified ? "verified" : "not verified")")
            }
            if let results = outcome.handler.results, case .failed(let failure)? = results.first {
                return .failure(failure)
            }
            return .success(outcome.facts)
        }
        return .failure(
            last ?? .init(stage: .connect, reply: nil, detail: "upstream \(name) has no hosts", isPermanent: true))
    }

    /// One attempt at one host: what the connection came to, how it was made, and whether the host
    /// turned out not to exist.
    struct RunOutcome {
        var handler: SMTPClientHandler.Outcome
        var facts: ConnectionFacts
        var hostNotFound = false
    }

    private func run(
        _ candidate: Candidate, messages: [SMTPClientSession.Message], contents: [MessageContent],
        transcript: (@Sendable (String) -> Void)? = nil, report: Report? = nil
    ) async -> RunOutcome {
        var session = SMTPClientSession(
            configuration: .init(
                heloName: heloName, tls: candidate.tls, username: candidate.username, password: candidate.password))
        for message in messages { session.send(message) }
        session.finish()
        let host = candidate.host
        let port = candidate.port
        func failed(_ detail: String, relay: String, notFound: Bool = false) -> RunOutcome {
            RunOutcome(
                handler: .init(
                    connectionFailure: .init(stage: .connect, reply: nil, detail: detail, isPermanent: false),
                    tls: false),
                facts: ConnectionFacts(relay: relay), hostNotFound: notFound)
        }
        let addresses: [SocketAddress]
        switch await resolver.addresses(of: host, port: port) {
        case .addresses(let found):
            addresses = addressFamily.order(found)
        case .notFound:
            return failed("\(host): no such host, or it has no address", relay: "\(host):\(port)", notFound: true)
        case .unavailable:
            return failed("\(host): address lookup failed, will retry", relay: "\(host):\(port)")
        }
        guard !addresses.isEmpty else {
            let detail = "\(host): no \(addressFamily == .any ? "" : addressFamily.rawValue + " ")address to connect to"
            return failed(detail, relay: "\(host):\(port)")
        }
        var lastError = "no address"
        var lastRelay = "\(host):\(port)"
        // Every address of the host, in order, before the caller moves to the next host.
        for address in addresses where !Task.isCancelled {
            let relay = Self.relay(host, address)
            lastRelay = relay
            let loop = group.next()
            let promise = loop.makePromise(of: SMTPClientHandler.Outcome.self)
            let tls = OutboundTLS(
                context: candidate.context, serverName: IPAddress(host) == nil ? host : nil, trust: candidate.trust)
            let configuredSession = session
            let timeouts = self.timeouts
            let fileIO = self.fileIO
            let threadPool = self.threadPool
            let verified = tls.verifies
            var messageFinished: SMTPClientHandler.MessageFinished?
            if let report {
                messageFinished = { index, results, outcome in
                    let facts = ConnectionFacts(
                        relay: relay, remoteHost: host, tlsVersion: outcome.tlsVersion,
                        verified: verified && outcome.tls,
                        peerOffersDSN: outcome.peerOffersDSN)
                    report(index, results, facts)
                }
            }
            let finished = messageFinished
            let connecting = ConnectInProgress()
            let bootstrap = ClientBootstrap(group: loop)
                .connectTimeout(.seconds(30))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try connecting.started(channel)
                        if candidate.tls == .implicit {
                            try channel.pipeline.syncOperations.addHandler(try tls.makeHandler())
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            SMTPClientHandler(
                                session: configuredSession, contents: contents, fileIO: fileIO, threadPool: threadPool,
                                tls: tls, timeouts: timeouts, promise: promise,
                                transcript: transcript, messageFinished: finished))
                    }
                }
            let channel: any Channel
            do {
                // A stop whose grace is over also cuts a connect short (a host that drops SYNs would otherwise
                // hold the stop for the whole connect timeout).
                channel = try await withTaskCancellationHandler {
                    try await bootstrap.connect(to: address).get()
                } onCancel: {
                    connecting.cancel()
                }
            } catch {
                lastError = Self.connectFailure(address, error)
                // The handler never went active, so nothing else completes its promise.
                promise.succeed(.init(connectionFailure: nil, tls: false))
                continue
            }
            // A stop whose grace is over closes the connection; the handler then reports what it has.
            let outcome: SMTPClientHandler.Outcome = await withTaskCancellationHandler {
                do { return try await promise.futureResult.get() } catch {
                    return .init(
                        connectionFailure: .init(stage: .connect, reply: nil, detail: "lost", isPermanent: false),
                        tls: false)
                }
            } onCancel: {
                channel.close(promise: nil)
            }
            return RunOutcome(
                handler: outcome,
                facts: ConnectionFacts(
                    relay: relay, remoteHost: outcome.greeted ? host : nil, tlsVersion: outcome.tlsVersion,
                    verified: verified && outcome.tls, peerOffersDSN: outcome.peerOffersDSN))
        }
        return failed(lastError, relay: lastRelay)
    }

    /// `mx.example.com[192.0.2.7]:25`, as Postfix writes a relay; a literal address is written once.
    static func relay(_ host: String, _ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "\(address)"
        return IPAddress(host) != nil
            ? (address.protocol == .inet6 ? "[\(ip)]" : ip) + ":\(address.port ?? 0)"
            : "\(host)[\(ip)]:\(address.port ?? 0)"
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

/// A connect that a stop may cut short: the channel, once the bootstrap has made it, or the news that the
/// stop came first, so a channel made after it is never connected.
private final class ConnectInProgress: Sendable {
    private enum State {
        case waiting
        case started(any Channel)
        case cancelled
    }
    private let state = Mutex(State.waiting)

    struct Cancelled: Error {}

    func started(_ channel: any Channel) throws {
        try state.withLock { state in
            if case .cancelled = state { throw Cancelled() }
            state = .started(channel)
        }
    }

    func cancel() {
        let channel: (any Channel)? = state.withLock { state in
            defer { state = .cancelled }
            if case .started(let channel) = state { return channel }
            return nil
        }
        channel?.close(promise: nil)
    }
}
