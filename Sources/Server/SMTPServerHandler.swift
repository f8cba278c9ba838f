import Logging
import MailModel
import NIOCore
import NIOExtras
import NIOSSL
import NIOTLS
import ProtocolSupport
import SMTPProtocol

import struct Foundation.Date

/// The NIO driver of one SMTP connection: it feeds the pure `SMTPServerSession` what happens on the channel
/// and carries out the actions it returns. No protocol decision is made here.
///
/// Reading stops (by holding back `read()`) while the session waits for our own work — a spool commit,
/// a password check — and while message content waits to be written, so neither a pipelining client nor
/// a large message can make memory grow. Replies are bounded the same way: while the channel is not
/// writable (a client that sends commands but does not read the replies) no further command is taken from
/// the session and nothing more is read; the watchdog closes such a client when its timeout runs out.
final class SMTPServerHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let service: SMTPServiceContext
    private let client: SMTPClientConnection
    private var session: SMTPServerSession
    private var watchdog: SessionWatchdog
    private var logger: Logger
    private var admitted = false
    private var message: (any IncomingMessage)?
    /// A `read()` we held back while paused.
    private var readHeld = false
    private var lastWrite: EventLoopFuture<Void>?
    private var closeRequested = false
    /// Mirrors `Channel.isWritable`: false while unwritten replies are above the high-water mark.
    private var writable = true
    private var messagesAccepted = 0

    init(service: SMTPServiceContext, remoteAddress: SocketAddress?, implicitTLS: Bool) {
        self.service = service
        let address = remoteAddress?.ipAddress.flatMap(IPAddress.init)
        client = SMTPClientConnection(address: address, port: remoteAddress?.port, implicitTLS: implicitTLS)
        var configuration = service.configuration
        configuration.startTLSAvailable = service.tlsContext != nil
        configuration.authAvailable = service.authenticator?.isAvailable ?? false
        session = SMTPServerSession(
            configuration: configuration, client: client,
            environment: SMTPSessionEnvironment(
                policy: service.policy,
                spoolHasRoom: { [store = service.store] in store.hasRoom(forDeclaredSize: $0) },
                makeQueueID: service.makeQueueID, userMaySend: service.userMaySend))
        watchdog = SessionWatchdog(limits: service.watchdogLimits, now: .zero)
        logger = service.logger
        logger[metadataKey: "client"] =
            "\(address.map { $0.isIPv6 ? "[\($0)]" : "\($0)" } ?? "unknown"):\(remoteAddress?.port ?? 0)"
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        watchdog = SessionWatchdog(limits: service.watchdogLimits, now: now(context))
        let admission = service.connectionLimiter.admit(client.address)
        switch admission {
        case .admitted:
            admitted = true
            logger.debug("connect", metadata: ["tls": client.implicitTLS ? "implicit" : "none"])
            session.start()
        case .tooManyConnections, .tooManyFromClient:
            logger.warning(
                "connection refused: over the limit",
                metadata: [
                    "limit": admission == .tooManyConnections
                        ? "max_connections=\(service.connectionLimiter.maxConnections)"
                        : "max_connections_per_client=\(service.connectionLimiter.maxPerClient)"
                ])
            if client.implicitTLS {
                // A 421 could only be read after a TLS handshake we do not want to spend on this client.
                context.fireChannelActive()
                context.close(promise: nil)
                return
            }
            session.refuse(admission == .tooManyConnections ? .tooManyConnections : .tooManyFromClient)
        }
        armWatchdog(context: context)
        drain(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.inputClosed()
        drain(context: context)
        if admitted {
            service.connectionLimiter.release(client.address)
            admitted = false
            logger.debug("disconnect", metadata: ["messages": "\(messagesAccepted)"])
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        watchdog.received(bytes.readableBytes, now: now(context), phase: session.phase)
        session.receive(bytes, at: Date(timeIntervalSince1970: Self.wallClock()))
        drain(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { drain(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case TLSUserEvent.handshakeCompleted:
            let name = SessionDriving.negotiatedTLSVersion(context: context)
            logger[metadataKey: "tls"] = "\(name ?? "TLS")"
            session.tlsEstablished(version: name)
            drain(context: context)
        case is ChannelShouldQuiesceEvent:
            session.shutdownStarted()
            drain(context: context)
            context.eventLoop.assumeIsolated().scheduleTask(in: service.shutdownGrace) {
                guard context.channel.isActive, self.session.phase != .closed else { return }
                self.logger.info("the stop's grace is over, closing", metadata: ["phase": "\(self.session.phase)"])
                self.session.shutdownGraceExpired()
                // A client that does not read would leave the 421 queued behind its unread replies.
                if self.writable { self.drain(context: context) } else { context.close(promise: nil) }
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        SessionDriving.errorCaught(context: context, error: error, logger: logger)
    }

    /// Reads are held back while the session waits for us or message content waits for the disk.
    func read(context: ChannelHandlerContext) {
        if isPaused {
            readHeld = true
        } else {
            context.read()
        }
    }

    private var isPaused: Bool {
        !writable || session.phase == .waitingForDriver || session.phase == .closed
            || message?.needsBackpressure == true
    }

    // MARK: Carrying out actions

    private func drain(context: ChannelHandlerContext) {
        // Once the channel is closed every action is carried out, so a message in progress is still discarded.
        while writable || !context.channel.isActive, let action = session.next() {
            perform(action, context: context)
        }
        context.flush()
        if readHeld && !isPaused {
            readHeld = false
            context.read()
        }
    }

    private func perform(_ action: SMTPServerSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let reply):
            watchdog.replied(now: now(context))
            lastWrite = context.write(wrapOutboundOut(ByteBuffer(string: reply.encoded)))
        case .startMessage(let start):
            startMessage(start, context: context)
        case .appendBody(let chunk):
            message?.append(chunk)
        case .commitMessage(let accepted):
            commit(accepted, context: context)
        case .abortMessage:
            message?.discard()
            message = nil
        case .startTLS:
            startTLS(context: context)
        case .verifyCredentials(let credentials):
            verify(credentials, context: context)
        case .log(let event):
            log(event)
        case .close:
            close(context: context)
        }
    }

    private func startMessage(_ start: MessageStart, context: ChannelHandlerContext) {
        watchdog.phaseChanged(to: .data, now: now(context))
        let message = service.store.begin(start.queueID, on: context.eventLoop)
        message.onDrained = { [weak self] in
            guard let self, self.readHeld, !self.isPaused else { return }
            self.readHeld = false
            context.read()
        }
        message.append(ByteBuffer(string: start.receivedHeader))
        self.message = message
    }

    private func commit(_ accepted: AcceptedMessage, context: ChannelHandlerContext) {
        guard let message else {
            session.messageCommitFailed()
            return
        }
        self.message = nil
        message.commit(accepted.envelope).assumeIsolated().whenComplete { result in
            self.watchdog.phaseChanged(to: .command, now: self.now(context))
            switch result {
            case .success:
                self.messagesAccepted += 1
                self.logger.info(
                    "queued",
                    metadata: [
                        "queue_id": "\(accepted.queueID)", "from": "\(accepted.sender)",
                        "size": "\(accepted.contentSize)", "nrcpt": "\(accepted.recipients.count)",
                        "proto": "\(accepted.client.protocolName)",
                    ].merging(accepted.client.authenticatedUser.map { ["auth": "\($0)"] } ?? [:]) { $1 })
                for recipient in accepted.recipients {
                    var metadata: Logger.Metadata = [
                        "queue_id": "\(accepted.queueID)", "to": "<\(recipient.address)>",
                        "route": "\(recipient.route.map { "\($0)" } ?? "mx")",
                    ]
                    if let rule = recipient.rule { metadata["rule"] = "\(rule)" }
                    if let original = recipient.originalRecipient { metadata["orcpt"] = "\(original.address)" }
                    if let sender = recipient.sender { metadata["sender"] = "\(sender)" }
                    self.logger.info(
                        recipient.route == .discard ? "discarded by rule" : "recipient", metadata: metadata)
                }
                self.session.messageCommitted(queueID: accepted.queueID)
            case .failure(let error):
                self.logger.error(
                    "spool commit failed, replied 451",
                    metadata: ["queue_id": "\(accepted.queueID)", "error": "\(error)"])
                self.session.messageCommitFailed()
            }
            self.drain(context: context)
        }
    }

    private func startTLS(context: ChannelHandlerContext) {
        guard let tlsContext = service.tlsContext else { return close(context: context) }
        // The 220 is already written: flush it in plaintext, then put TLS in front of everything we read next.
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
        } catch {
            logger.error("could not start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func verify(_ credentials: Credentials, context: ChannelHandlerContext) {
        guard let authenticator = service.authenticator else {
            session.authenticationFinished(.temporaryFailure)
            return
        }
        authenticator.authenticate(credentials, from: client.address, on: context.eventLoop)
            .assumeIsolated().whenComplete { result in
                let verdict = (try? result.get()) ?? Authenticator.Verdict(result: .temporaryFailure, delay: .zero)
                switch verdict.result {
                case .accepted:
                    self.logger[metadataKey: "auth"] = "\(credentials.username)"
                    self.logger.info("authenticated", metadata: ["mechanism": "\(credentials.mechanism)"])
                case .rejected, .temporaryFailure:
                    self.logger.warning(
                        "authentication failed",
                        metadata: [
                            "user": "\(credentials.username)", "mechanism": "\(credentials.mechanism)",
                            "result": "\(verdict.result)",
                        ])
                }
                let finish = {
                    self.session.authenticationFinished(verdict.result)
                    self.drain(context: context)
                }
                if verdict.delay > .zero {
                    context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Self.nanoseconds(verdict.delay))) {
                        finish()
                    }
                } else {
                    finish()
                }
            }
    }

    /// Closes once the last reply is written, or after `closeGrace` if it cannot be (a TLS handshake that
    /// never completes would otherwise hold the connection open for ever).
    private func close(context: ChannelHandlerContext) {
        guard !closeRequested else { return }
        closeRequested = true
        context.flush()
        guard let lastWrite else { return context.close(promise: nil) }
        lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeGrace) {
            if context.channel.isActive { context.close(promise: nil) }
        }
    }

    private static let closeGrace = TimeAmount.seconds(5)

    private func log(_ event: SessionEvent) {
        switch event {
        case .refused(let command, let reply, let queueID, let sender, let recipient):
            var metadata: Logger.Metadata = ["reply": "\(reply)"]
            if let command { metadata["command"] = "\(command)" }
            if let queueID { metadata["queue_id"] = "\(queueID)" }
            if let sender { metadata["from"] = "\(sender)" }
            if let recipient { metadata["to"] = "<\(recipient)>" }
            logger.info("refused", metadata: metadata)
        case .timeout(let phase):
            logger.info("timeout, closing", metadata: ["phase": "\(phase)"])
        case .protocolViolation(let what):
            logger.warning("protocol violation", metadata: ["detail": "\(what)"])
        }
    }

    // MARK: Watchdog

    private func armWatchdog(context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: service.watchdogInterval) {
            guard context.channel.isActive, self.session.phase != .closed else { return }
            let verdict = self.watchdog.verdict(now: self.now(context), phase: self.session.phase)
            if verdict != .fine && !self.writable {
                // The client is not reading: a 421 would only queue behind the replies it ignores.
                self.logger.info("timeout with replies unread, closing", metadata: ["phase": "\(self.session.phase)"])
                self.session.timeoutFired()
                context.close(promise: nil)
                return
            }
            switch verdict {
            case .fine:
                break
            case .idle:
                self.session.timeoutFired()
            case .tooSlow:
                self.logger.info(
                    "DATA too slow", metadata: ["minimum_rate": "\(self.service.watchdogLimits.minimumDataRate)"])
                self.session.timeoutFired()
            }
            self.drain(context: context)
            self.armWatchdog(context: context)
        }
    }

    // MARK: Helpers

    /// The event loop's clock: real time in service, virtual time under `EmbeddedEventLoop` in tests.
    private func now(_ context: ChannelHandlerContext) -> Duration {
        .nanoseconds(Int64(context.eventLoop.now.uptimeNanoseconds))
    }
    private static func wallClock() -> Double { Clocks.wallSeconds() }
    private static func nanoseconds(_ duration: Duration) -> Int64 { Clocks.nanoseconds(duration) }

    static func name(of version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }
}
