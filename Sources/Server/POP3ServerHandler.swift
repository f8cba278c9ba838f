import Logging
import MailModel
import NIOCore
import NIOSSL
import POP3Protocol
import ProtocolSupport

/// The NIO driver of one POP3 connection: it feeds the pure `POP3Session` what happens and carries out its
/// actions. Messages are streamed from disk a chunk at a time, each chunk read only when the one before is
/// written, so a large message or a slow client never makes memory grow. Reading stops while the session
/// waits for us and while replies are unwritten above the high-water mark.
final class POP3ServerHandler: ChannelDuplexHandler, SessionDriver {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let service: POP3ServiceContext
    private let address: IPAddress?
    private let implicitTLS: Bool
    var session: POP3Session
    var logger: Logger
    private var admitted = false
    private var maildrop: Maildrops.Maildrop?
    var readHeld = false
    private(set) var writable = true
    private var lastWrite: EventLoopFuture<Void>?
    private var closeRequested = false
    var lastActivity = NIODeadline.now()

    init(service: POP3ServiceContext, remoteAddress: SocketAddress?, implicitTLS: Bool) {
        self.service = service
        self.implicitTLS = implicitTLS
        address = remoteAddress?.ipAddress.flatMap(IPAddress.init)
        var configuration = service.configuration
        configuration.tlsAvailable = service.tlsContext != nil
        session = POP3Session(configuration: configuration, implicitTLS: implicitTLS)
        logger = service.logger
        logger[metadataKey: "client"] =
            "\(address.map { $0.isIPv6 ? "[\($0)]" : "\($0)" } ?? "unknown"):\(remoteAddress?.port ?? 0)"
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = context.eventLoop.now
        guard service.connectionLimiter.admit(address) == .admitted else {
            return SessionDriving.refuseOverLimit(
                context: context, implicitTLS: implicitTLS, refusal: "-ERR [SYS/TEMP] Too many connections\r\n",
                logger: logger)
        }
        admitted = true
        logger.debug("connect", metadata: ["tls": implicitTLS ? "implicit" : "none"])
        session.start()
        armIdleTimer(context: context)
        drain(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A dropped connection never reaches UPDATE: nothing is deleted.
        session.inputClosed()
        releaseMaildrop()
        if admitted {
            service.connectionLimiter.release(address)
            admitted = false
            logger.debug("disconnect")
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data), context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { drain(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        sessionEvent(event, context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        SessionDriving.errorCaught(context: context, error: error, logger: logger)
    }

    func read(context: ChannelHandlerContext) {
        readRequested(context: context)
    }

    // MARK: Carrying out actions

    func perform(_ action: POP3Session.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let text):
            write(ByteBuffer(string: text), context: context)
        case .startTLS:
            SessionDriving.startTLS(context: context, tlsContext: service.tlsContext, logger: logger)
        case .verifyCredentials(let credentials):
            verify(credentials, context: context)
        case .openMaildrop(let user):
            openMaildrop(user, context: context)
        case .sendMessage(let index, let bodyLines, let status):
            sendMessage(index, bodyLines: bodyLines, status: status, context: context)
        case .removeMessages(let indexes):
            remove(indexes, context: context)
        case .close:
            close(context: context)
        case .log(let event):
            log(event)
        }
    }

    private func write(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        lastWrite = context.write(wrapOutboundOut(buffer))
    }

    private func verify(_ credentials: Credentials, context: ChannelHandlerContext) {
        SessionDriving.authenticate(
            credentials, authenticator: service.authenticator, from: address, context: context
        ) { result in
            self.session.authenticationFinished(result)
            self.drain(context: context)
        }
    }

    private func openMaildrop(_ user: String, context: ChannelHandlerContext) {
        service.maildrops.open(user: user, on: context.eventLoop).assumeIsolated().whenSuccess { result in
            switch result {
            case .success(let maildrop):
                guard context.channel.isActive else {
                    // Gone while we listed: give the lock straight back.
                    self.service.maildrops.release(maildrop.mailbox)
                    return
                }
                self.maildrop = maildrop
                self.logger[metadataKey: "mailbox"] = "\(maildrop.mailbox)"
                self.logger.info(
                    "maildrop opened",
                    metadata: [
                        "messages": "\(maildrop.messages.count)",
                        "listed_in": "\(Clocks.nanoseconds(maildrop.listingTime) / 1_000_000)ms",
                    ])
                self.session.maildropOpened(.success(maildrop.entries))
            case .failure(let failure):
                self.logger.info("maildrop not opened", metadata: ["reason": "\(failure)"])
                self.session.maildropOpened(.failure(failure))
            }
            self.drain(context: context)
        }
    }

    /// Streams one message: status line, then content chunk by chunk, each read after the previous one is
    /// written, then the final dot.
    private func sendMessage(_ index: Int, bodyLines: Int?, status: String, context: ChannelHandlerContext) {
        guard let maildrop else { return session.messageSent(false) }
        let maildrops = service.maildrops
        maildrops.openMessage(maildrop.messages[index], in: maildrop, on: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                guard case .success(let fd?) = result else {
                    self.session.messageSent(false)
                    return self.drain(context: context)
                }
                self.write(ByteBuffer(string: status), context: context)
                var stuffer = DotStuffer(bodyLineLimit: bodyLines)
                func nextChunk() {
                    maildrops.read(fd, on: context.eventLoop).assumeIsolated().whenComplete { result in
                        guard context.channel.isActive, case .success(let chunk?) = result else {
                            // Half a message cannot be taken back: the client must see the connection end.
                            if context.channel.isActive {
                                self.logger.error("could not read a message, closing", metadata: ["index": "\(index)"])
                            }
                            maildrops.close(fd, on: context.eventLoop)
                            return context.close(promise: nil)
                        }
                        if chunk.readableBytes == 0 || stuffer.isComplete {
                            maildrops.close(fd, on: context.eventLoop)
                            self.write(stuffer.terminator(), context: context)
                            self.lastActivity = context.eventLoop.now
                            self.session.messageSent()
                            return self.drain(context: context)
                        }
                        let output = stuffer.stuff(chunk)
                        context.writeAndFlush(self.wrapOutboundOut(output)).assumeIsolated().whenComplete { _ in
                            self.lastActivity = context.eventLoop.now
                            nextChunk()
                        }
                    }
                }
                nextChunk()
            }
    }

    private func remove(_ indexes: [Int], context: ChannelHandlerContext) {
        guard let maildrop else { return session.updateFinished(removed: false) }
        service.maildrops.remove(indexes, from: maildrop, on: context.eventLoop).assumeIsolated().whenSuccess {
            removed in
            if removed {
                self.logger.info("messages deleted", metadata: ["count": "\(indexes.count)"])
            } else {
                self.logger.error("could not delete every message QUIT asked for")
            }
            self.session.updateFinished(removed: removed)
            self.drain(context: context)
        }
    }

    /// Gives the mailbox back: at the session's end, before its last reply goes out, so a client that
    /// reconnects the moment it reads "+OK" after QUIT does not find its own old session holding the lock.
    private func releaseMaildrop() {
        guard let maildrop else { return }
        service.maildrops.release(maildrop.mailbox)
        self.maildrop = nil
        logger.info("maildrop released")
    }

    private func close(context: ChannelHandlerContext) {
        releaseMaildrop()
        guard !closeRequested else { return }
        closeRequested = true
        SessionDriving.close(context: context, after: lastWrite)
    }

    private func log(_ event: POP3Session.Event) {
        switch event {
        case .authenticated(let user, let mechanism):
            logger[metadataKey: "user"] = "\(user)"
            logger.info("authenticated", metadata: ["mechanism": "\(mechanism)"])
        case .authenticationFailed(let user, let result):
            logger.warning("authentication failed", metadata: ["user": "\(user)", "result": "\(result)"])
        case .protocolError(let what):
            logger.info("protocol error", metadata: ["detail": "\(what)"])
        case .timeout:
            logger.info("idle timeout, closing")
        }
    }

    // MARK: Idle timer

    private func armIdleTimer(context: ChannelHandlerContext) {
        SessionDriving.every(
            quarterOf: min(service.idleTimeout, service.loginTimeout), ceiling: .seconds(5), context: context
        ) {
            guard self.session.phase != .closed else { return false }
            let limit = self.idleLimit(idle: self.service.idleTimeout, login: self.service.loginTimeout)
            guard context.eventLoop.now - self.lastActivity >= limit else { return true }
            if self.session.phase == .command && self.writable {
                self.session.timeoutFired()
                self.drain(context: context)
            } else {
                // A client that stopped reading a message holds its mailbox's lock: let it go.
                self.logger.info("idle timeout while sending, closing")
                context.close(promise: nil)
            }
            return false
        }
    }
}
