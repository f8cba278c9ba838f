import Delivery
import Foundation
import IMAPProtocol
import Logging
import MailModel
import Mailbox
import NIOCore
import NIOPosix
import POP3Protocol
import Routing
import SMTPProtocol
import Server
import ServiceLifecycle
import Spool
import UnixSignals

/// The composition root: builds every part from the settings, recovers the spool, starts the listeners, and
/// stops cleanly on SIGTERM or SIGINT.
public enum Gateway {
    /// Runs the server until a stop signal. Throws, with a message an operator can act on, if it cannot start.
    public static func serve(_ settings: Settings, logger: Logger) async throws {
        let configuration = settings.configuration
        logger.info(
            "starting",
            metadata: [
                "version": "\(RelaygateVersion.current)",
                "hostname": "\(configuration.hostname)",
                "config": settings.configFileExists ? "\(settings.configFile)" : "embedded defaults",
                "spool": "\(configuration.spool)",
            ])

        // Before anything else touches the spool: one server per spool, or every message goes out twice.
        let ownerLock: SpoolLock
        do {
            ownerLock = try SpoolLock.acquire(.owner, spool: configuration.spool)
        } catch {
            throw StartupError("\(error)")
        }
        defer { withExtendedLifetime(ownerLock) {} }
        let spool = try openSpool(configuration, logger: logger)
        let identity = try tlsIdentity(configuration, logger: logger)
        let verifier: PasswordVerifier
        do {
            verifier = try PasswordVerifier(path: settings.usersFile)
        } catch {
            throw StartupError("users file: \(error)")
        }
        if !verifier.hasUsers {
            logger.notice(
                "no users: AUTH is not offered; add one with `relaygate users add NAME`",
                metadata: ["users_file": "\(settings.usersFile)"])
        }

        let rules: RuleSet
        let secrets: [[UInt8]]
        let rulesFingerprint = RulesLoader.fingerprint(directory: settings.rulesDirectory)
        do {
            rules = try RoutingSetup.loadRules(settings)
            secrets = try SRSSecrets.load(path: RoutingSetup.srsSecretsPath(configuration), create: true)
        } catch {
            throw StartupError("rules: \(error)")
        }
        let router = RecipientRouter(RoutingSetup.router(settings, rules: rules, secrets: secrets))
        if let warning = RoutingSetup.noDomainsWarning(rules, directory: settings.rulesDirectory) {
            logger.warning("\(warning)")
        }
        logger.info(
            "rules loaded",
            metadata: [
                "directory": "\(settings.rulesDirectory)", "rules": "\(rules.ruleCount)",
                "domains": "\(rules.ourDomains.sorted().joined(separator: ","))",
            ])

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let threadPool = NIOThreadPool(numberOfThreads: configuration.spoolThreads)
        threadPool.start()
        // Password hashing is slow on purpose; on its own threads it can never hold up a spool commit.
        let authThreadPool = NIOThreadPool(numberOfThreads: 2)
        authThreadPool.start()
        func tearDown() async {
            try? await authThreadPool.shutdownGracefully()
            try? await threadPool.shutdownGracefully()
            try? await group.shutdownGracefully()
        }

        let upstreams = try DeliverySetup.upstreams(configuration)
        let agent = DeliveryAgent(
            spool: spool,
            transport: try SMTPTransport(
                group: group, threadPool: threadPool, heloName: configuration.hostname, upstreams: upstreams,
                resolver: SystemMXResolver(threadPool: threadPool, server: DeliverySetup.dnsServer(configuration)),
                addressFamily: AddressFamilyPolicy(rawValue: configuration.delivery.ipVersion) ?? .any,
                logger: Logger(label: "delivery")),
            mailboxes: MaildirTransport(
                root: DeliverySetup.mailboxRoot(configuration), hostname: configuration.hostname),
            policy: DeliverySetup.retryPolicy(configuration),
            limits: {
                var limits = DeliveryAgent.Limits()
                limits.connections = configuration.delivery.maxConnections
                limits.perDestination = configuration.delivery.maxPerDestination
                return limits
            }(),
            threadPool: threadPool, logger: Logger(label: "delivery"),
            notify: DeliverySetup.notificationQueue(spool: spool, router: router, hostname: configuration.hostname))

        var service = try SMTPServiceContext(
            configuration: sessionConfiguration(configuration),
            watchdogLimits: watchdogLimits(configuration),
            policy: router,
            store: SpoolMessageStore(spool: spool, threadPool: threadPool, committed: { agent.enqueue($0) }),
            authenticator: Authenticator(
                verifier: verifier,
                limiter: AuthFailureLimiter(
                    maxFailures: configuration.auth.maxFailures, window: configuration.auth.failureWindow.duration,
                    delayPerFailure: configuration.auth.failureDelay.duration,
                    maximumDelay: configuration.auth.maxDelay.duration),
                threadPool: authThreadPool, logger: logger),
            tlsContext: identity.makeServerContext(),
            connectionLimiter: ConnectionLimiter(
                maxConnections: configuration.smtp.maxConnections,
                maxPerClient: configuration.smtp.maxConnectionsPerClient),
            logger: Logger(label: "smtp"))
        service.shutdownGrace = .nanoseconds(Clocks.nanoseconds(configuration.shutdownGrace.duration))
        service.userMaySend = { user, sender in verifier.entry(for: user)?.maySend(as: "\(sender)") ?? true }

        let server = SMTPServer(service: service, group: group)
        let authenticator = service.authenticator
        var pop3Service = POP3ServiceContext(
            configuration: POP3Session.Configuration(hostname: configuration.hostname, tlsAvailable: true),
            tlsContext: service.tlsContext, authenticator: authenticator,
            maildrops: Maildrops(
                store: MailboxStore(root: DeliverySetup.mailboxRoot(configuration)), threadPool: threadPool,
                mailboxOf: { verifier.entry(for: $0)?.readsMailbox }),
            connectionLimiter: ConnectionLimiter(
                maxConnections: configuration.pop3.maxConnections,
                maxPerClient: configuration.pop3.maxConnectionsPerClient),
            logger: Logger(label: "pop3"))
        pop3Service.idleTimeout = .nanoseconds(Clocks.nanoseconds(configuration.pop3.idleTimeout.duration))
        pop3Service.loginTimeout = .nanoseconds(Clocks.nanoseconds(configuration.pop3.loginTimeout.duration))
        let pop3 = POP3Server(service: pop3Service, group: group)
        var imapService = IMAPServiceContext(
            configuration: {
                var session = IMAPSession.Configuration(hostname: configuration.hostname, tlsAvailable: true)
                session.maxLiteralSize = configuration.smtp.maxMessageSize.octets
                return session
            }(),
            tlsContext: service.tlsContext, authenticator: authenticator,
            store: MailboxStore(root: DeliverySetup.mailboxRoot(configuration)), threadPool: threadPool,
            mailboxOf: { verifier.entry(for: $0)?.readsMailbox },
            connectionLimiter: ConnectionLimiter(
                maxConnections: configuration.imap.maxConnections,
                maxPerClient: configuration.imap.maxConnectionsPerClient),
            logger: Logger(label: "imap"))
        imapService.idleTimeout = .nanoseconds(Clocks.nanoseconds(configuration.imap.idleTimeout.duration))
        imapService.loginTimeout = .nanoseconds(Clocks.nanoseconds(configuration.imap.loginTimeout.duration))
        let imap = IMAPServer(service: imapService, group: group)
        // Trapped before the first listener is bound, so a stop signal that comes as soon as the server is
        // reachable is a graceful stop, never the default action's abrupt end.
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Every listener is bound before delivery starts: a server that cannot take its ports has sent nothing.
        let listeners: ListenerService
        do {
            listeners = try await ListenerService.bind(
                server: server, pop3: pop3, imap: imap, listeners: settings.listeners, logger: logger)
        } catch {
            await tearDown()
            throw error
        }
        let reloader = RulesReloader(
            settings: settings, router: router, secrets: secrets, interval: .seconds(2), logger: Logger(label: "rules"),
            loadedFingerprint: rulesFingerprint, hangups: hangups)
        let operatorLog = OperatorActionLog(spool: spool, interval: .seconds(1), logger: Logger(label: "operator"))
        let usersWatcher = UsersFileWatcher(verifier: verifier, interval: .seconds(2), logger: Logger(label: "users"))
        // A stop winds services down one by one, last first: the listeners (no new mail, sessions finish),
        // then delivery (its grace), then the watchers.
        var running: [any Service] = [reloader, operatorLog, usersWatcher]
        if configuration.delivery.enabled {
            running.append(DeliveryService(agent: agent, grace: configuration.shutdownGrace.duration))
        } else {
            logger.notice("delivery is off (delivery.enabled: false): messages are accepted and stay queued")
        }
        running.append(listeners)
        let services = ServiceGroup(
            services: running, gracefulShutdownSignals: [], cancellationSignals: [], logger: Logger(label: "lifecycle"))
        var failure: (any Error)?
        do { try await run(services, stoppingOn: stopSignals, logger: logger) } catch { failure = error }
        await tearDown()
        if let failure { throw failure }
        let statistics = spool.statistics
        logger.info(
            "stopped",
            metadata: [
                "messages_committed": "\(statistics.commits)", "directory_syncs": "\(statistics.directorySyncs)",
                "quarantined": "\(statistics.quarantined)",
            ])
    }

    static func openSpool(_ configuration: RelaygateConfiguration, logger: Logger) throws -> Spool {
        let spool: Spool
        let report: Spool.RecoveryReport
        do {
            spool = try Spool(directory: configuration.spool, minimumFreeSpace: configuration.smtp.minFreeSpace.octets)
            // A queue command that is moving a message finishes before recovery looks (`SpoolLock`).
            let queueLock = try SpoolLock.acquireWaiting(.queue, spool: configuration.spool) { holder in
                logger.notice(
                    "waiting for a queue command to finish before recovering the spool",
                    metadata: ["pid": "\(holder.map(String.init) ?? "unknown")"])
            }
            report = try withExtendedLifetime(queueLock) { try spool.recover() }
        } catch {
            throw StartupError("spool \(configuration.spool): \(error)")
        }
        logger.info(
            "spool recovered",
            metadata: [
                "queued": "\(report.queued)", "requeued": "\(report.requeued)",
                "temporary_removed": "\(report.temporaryFilesRemoved)",
                "orphans_removed": "\(report.orphanBodiesRemoved)",
                "quarantined": "\(report.quarantined.count)",
            ])
        for (name, reason) in report.quarantined {
            logger.error(
                "quarantined an envelope; inspect it in the quarantine directory",
                metadata: ["queue_id": "\(name)", "reason": "\(reason)", "directory": "\(spool.path(of: .quarantine))"])
        }
        return spool
    }

    static func tlsIdentity(_ configuration: RelaygateConfiguration, logger: Logger) throws -> TLSIdentity {
        do {
            if let certificate = configuration.tls.certificate, let key = configuration.tls.key {
                return try TLSIdentity.load(certificate: certificate, key: key)
            }
            let identity = try TLSIdentity.selfSigned(
                in: configuration.spool + "/tls", hostname: configuration.hostname)
            if case .selfSigned(let path, let created) = identity.source {
                logger.warning(
                    created ? "generated a self-signed TLS certificate" : "using the self-signed TLS certificate",
                    metadata: [
                        "certificate": "\(path)",
                        "fix":
                            "set tls.certificate and tls.key in relaygate.yaml (or --tls-cert/--tls-key) to a real certificate",
                    ])
            }
            return identity
        } catch {
            throw StartupError("TLS: \(error)")
        }
    }

    static func sessionConfiguration(_ configuration: RelaygateConfiguration) -> SMTPServerConfiguration {
        var session = SMTPServerConfiguration(hostname: configuration.hostname)
        session.maxMessageSize = configuration.smtp.maxMessageSize.octets
        session.maxRecipients = configuration.smtp.maxRecipients
        session.maxCommandLineLength = configuration.smtp.maxLineLength
        session.addressLimits = AddressLimits(maxLocalPart: configuration.smtp.maxLocalPart)
        session.maxErrors = configuration.smtp.maxErrors
        session.maxReceivedHeaders = configuration.smtp.maxReceivedHeaders
        return session
    }

    static func watchdogLimits(_ configuration: RelaygateConfiguration) -> SessionWatchdog.Limits {
        var limits = SessionWatchdog.Limits()
        limits.commandTimeout = configuration.smtp.commandTimeout.duration
        limits.dataTimeout = configuration.smtp.dataTimeout.duration
        limits.minimumDataRate = configuration.smtp.minDataRate.octets
        return limits
    }
}

/// A reason the server cannot start, for the operator.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Every protocol's listeners, bound together before any service runs; then it waits for the stop signal
/// and winds the sessions down.
struct ListenerService: Service {
    let server: SMTPServer
    var pop3: POP3Server?
    var imap: IMAPServer?
    let logger: Logger

    /// Binds every listener, or none: when one cannot bind, those already bound are closed again before the
    /// error (which names the address, the cause and the fix) is thrown.
    static func bind(
        server: SMTPServer, pop3: POP3Server? = nil, imap: IMAPServer? = nil, listeners: Settings.Listeners,
        logger: Logger
    ) async throws -> ListenerService {
        let service = ListenerService(server: server, pop3: pop3, imap: imap, logger: logger)
        var bound: [ListenerSet.BoundListener] = []
        do {
            bound += try await server.start(listeners.smtp)
            if let pop3 { bound += try await pop3.start(listeners.pop3) }
            if let imap { bound += try await imap.start(listeners.imap) }
            guard !bound.isEmpty else { throw StartupError("no listener could be started") }
        } catch {
            await service.closeAll()
            throw error
        }
        logger.info("ready", metadata: ["listeners": "\(bound.count)"])
        return service
    }

    func run() async throws {
        try? await gracefulShutdown()
        logger.info(
            "stopping: no new connections; finishing transactions in flight",
            metadata: ["grace": "\(TimeSpan(.nanoseconds(server.service.shutdownGrace.nanoseconds)))"])
        await closeAll()
    }

    private func closeAll() async {
        async let smtpStopped: Void = server.shutdown()
        async let pop3Stopped: Void? = pop3?.shutdown()
        async let imapStopped: Void? = imap?.shutdown()
        _ = await (smtpStopped, pop3Stopped, imapStopped)
    }
}

extension Gateway {
    /// `relaygate bench sink`: the SMTP server with a store that keeps nothing, accepting any recipient, with
    /// a line of totals every second. Runs until SIGINT or SIGTERM.
    public static func sink(listen: ListenAddress, hostname: String, logger: Logger) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let store = DiscardingMessageStore()
        var configuration = SMTPServerConfiguration(hostname: hostname)
        configuration.maxErrors = 1_000_000
        var sinkLogger = Logger(label: "sink")
        sinkLogger.logLevel = .warning
        var service = SMTPServiceContext(
            configuration: configuration, watchdogLimits: SessionWatchdog.Limits(), policy: AcceptAllPolicy(),
            store: store, authenticator: nil, tlsContext: nil,
            connectionLimiter: ConnectionLimiter(maxConnections: 10_000, maxPerClient: 10_000), logger: sinkLogger)
        service.shutdownGrace = .seconds(1)
        let server = SMTPServer(service: service, group: group)
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let listeners: ListenerService
        do {
            listeners = try await ListenerService.bind(
                server: server, listeners: .init(smtp: [.init(address: listen, implicitTLS: false)], pop3: []),
                logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let reporter = SinkReporter(store: store, logger: logger)
        let services = ServiceGroup(
            services: [listeners, reporter], gracefulShutdownSignals: [], cancellationSignals: [],
            logger: Logger(label: "lifecycle"))
        try await run(services, stoppingOn: stopSignals, logger: logger)
        try await group.shutdownGracefully()
    }

    /// Runs the services until they end, and stops them gracefully on a signal of `signals`. The signals
    /// are trapped by the caller before it binds anything; one that came before the services started is
    /// kept by the sequence and stops them at once.
    static func run(_ services: ServiceGroup, stoppingOn signals: UnixSignalsSequence, logger: Logger) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            group.addTask {
                for await signal in signals {
                    logger.notice("stop signal received", metadata: ["signal": "\(signal)"])
                    await services.triggerGracefulShutdown()
                }
            }
            // The services' end (or failure) ends the wait for signals.
            try await group.next()
            group.cancelAll()
        }
    }
}

/// Prints the sink's totals and rate once a second.
struct SinkReporter: Service {
    let store: DiscardingMessageStore
    let logger: Logger

    func run() async throws {
        var previous = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            let (messages, octets) = store.totals
            if messages != previous {
                logger.info(
                    "sink",
                    metadata: [
                        "messages": "\(messages)", "octets": "\(octets)", "per_second": "\(messages - previous)",
                    ])
                previous = messages
            }
        }
    }
}
