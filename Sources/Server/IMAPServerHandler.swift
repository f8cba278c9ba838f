import FileSupport
import IMAPProtocol
import Logging
import MailModel
import NIOCore
import NIOSSL
import ProtocolSupport

/// The NIO driver of one IMAP connection: it feeds the pure `IMAPSession` and carries out its actions;
/// mailbox requests run on the thread pool (`IMAPMailboxWork`). Reading stops while the session waits for
/// us and while replies are unwritten above the high-water mark.
final class IMAPServerHandler: ChannelDuplexHandler, SessionDriver {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let service: IMAPServiceContext
    private let address: IPAddress?
    private let implicitTLS: Bool
    var session: IMAPSession
    var logger: Logger
    private var admitted = false
    private var work: IMAPMailboxWork?
    var readHeld = false
    private(set) var writable = true
    private var lastWrite: EventLoopFuture<Void>?
    private var closeRequested = false
    var lastActivity = NIODeadline.now()
    /// A request held back while replies wait to be written (a big FETCH goes in batches, each asked for
    /// only when the client has taken the one before).
    private var heldRequest: IMAPRequest?
    /// The APPENDed message being written as it arrives.
    private var upload: IMAPUploadWriter?

    init(service: IMAPServiceContext, remoteAddress: SocketAddress?, implicitTLS: Bool) {
        self.service = service
        self.implicitTLS = implicitTLS
        address = remoteAddress?.ipAddress.flatMap(IPAddress.init)
        var configuration = service.configuration
        configuration.tlsAvailable = service.tlsContext != nil
        session = IMAPSession(configuration: configuration, implicitTLS: implicitTLS)
        logger = service.logger
        logger[metadataKey: "client"] =
            "\(address.map { $0.isIPv6 ? "[\($0)]" : "\($0)" } ?? "unknown"):\(remoteAddress?.port ?? 0)"
    }

    func channelActive(context: ChannelHandlerContext) {
        lastActivity = context.eventLoop.now
        guard service.connectionLimiter.admit(address) == .admitted else {
            return SessionDriving.refuseOverLimit(
                context: context, implicitTLS: implicitTLS, refusal: "* BYE Too many connections\r\n", logger: logger)
        }
        admitted = true
        session.start()
        armIdleTimer(context: context)
        drain(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.inputClosed()
        upload?.discard()
        upload = nil
        if admitted {
            service.connectionLimiter.release(address)
            admitted = false
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data), context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable, let request = heldRequest {
            heldRequest = nil
            run(request, context: context)
        }
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

    func perform(_ action: IMAPSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let text):
            lastWrite = context.write(wrapOutboundOut(ByteBuffer(string: text)))
        case .sendOctets(let octets):
            lastWrite = context.write(wrapOutboundOut(ByteBuffer(bytes: octets)))
        case .startTLS:
            SessionDriving.startTLS(context: context, tlsContext: service.tlsContext, logger: logger)
        case .verifyCredentials(let credentials):
            SessionDriving.authenticate(
                credentials, authenticator: service.authenticator, from: address, context: context
            ) { result in
                self.loggedIn(credentials.username, result)
                self.drain(context: context)
            }
        case .request(let request):
            if writable { run(request, context: context) } else { heldRequest = request }
        case .close:
            guard !closeRequested else { return }
            closeRequested = true
            SessionDriving.close(context: context, after: lastWrite)
        case .log(let event):
            log(event)
        case .appendBegin:
            guard let work else { return }
            let writer = IMAPUploadWriter(
                upload: work.beginUpload(), threadPool: service.threadPool, eventLoop: context.eventLoop)
            writer.onDrained = { self.drain(context: context) }
            upload = writer
        case .appendChunk(let chunk):
            upload?.append(chunk)
        case .appendAbort:
            upload?.discard()
            upload = nil
        }
    }

    /// Reads also wait while an APPENDed message is written more slowly than it arrives.
    var holdsReads: Bool { upload?.needsBackpressure ?? false }

    private func run(_ request: IMAPRequest, context: ChannelHandlerContext) {
        guard let work else { return session.requestFinished(.done(refusal: "Not logged in")) }
        if case .appendStreamed(let name, let flags, let date) = request {
            return fileUpload(to: name, flags: flags, date: date, work: work, context: context)
        }
        service.threadPool.runIfActive(eventLoop: context.eventLoop) { work.perform(request) }
            .assumeIsolated().whenComplete { result in
                self.session.requestFinished((try? result.get()) ?? .done(refusal: "[UNAVAILABLE] Try again later"))
                self.drain(context: context)
            }
    }

    /// The APPEND's message is all written: make it durable and file it in its folder.
    private func fileUpload(
        to name: String, flags: [String], date: Int?, work: IMAPMailboxWork, context: ChannelHandlerContext
    ) {
        guard let writer = upload else {
            return session.requestFinished(.done(refusal: "[SERVERBUG] The message was not written"))
        }
        upload = nil
        let pool = service.threadPool
        let loop = context.eventLoop
        writer.finish().flatMap { finished in
            pool.runIfActive(eventLoop: loop) {
                work.appendUploaded(finished, to: name, flags: flags, date: date)
            }.flatMapErrorThrowing { error in
                // The pool would not take it (the server is stopping): nobody files the written message.
                FileSystem.remove(finished.path)
                throw error
            }
        }.assumeIsolated().whenComplete { result in
            if case .failure(let error) = result {
                writer.discard()
                self.logger.error("could not write an APPENDed message", metadata: ["error": "\(error)"])
            }
            self.session.requestFinished(
                (try? result.get()) ?? .done(refusal: "[UNAVAILABLE] The message could not be written; try again later")
            )
            self.drain(context: context)
        }
    }

    /// A correct password is not enough: the user needs a mailbox to read.
    private func loggedIn(_ user: String, _ result: AuthenticationResult) {
        guard result == .accepted else { return session.authenticationFinished(result) }
        guard let mailbox = service.mailboxOf(user) else {
            logger.warning("login without a mailbox; set mailbox= in the users file", metadata: ["user": "\(user)"])
            return session.authenticationFinished(.rejected)
        }
        work = IMAPMailboxWork(
            store: service.store, mailbox: mailbox, hostname: service.configuration.hostname,
            listings: service.listings, logger: logger)
        logger[metadataKey: "mailbox"] = "\(mailbox)"
        session.authenticationFinished(.accepted)
    }

    private func log(_ event: IMAPSession.Event) {
        switch event {
        case .authenticated(let user, let mechanism):
            logger[metadataKey: "user"] = "\(user)"
            logger.info("authenticated", metadata: ["mechanism": "\(mechanism)"])
        case .authenticationFailed(let user, let result):
            logger.warning("authentication failed", metadata: ["user": "\(user)", "result": "\(result)"])
        case .protocolError(let what):
            logger.info("protocol error", metadata: ["detail": "\(what)"])
        case .clientIdentified(let fields):
            logger.info("client identified", metadata: ["id": "\(fields)"])
        }
    }

    /// Checks the autologout time (the login timeout until the user has logged in), and while the client
    /// idles (IDLE) polls its folder so changes are pushed within `service.idlePollInterval`.
    private func armIdleTimer(context: ChannelHandlerContext) {
        let shortest = min(service.idleTimeout, service.loginTimeout)
        SessionDriving.every(quarterOf: shortest, ceiling: service.idlePollInterval, context: context) {
            guard self.session.phase != .closed else { return false }
            if self.session.isIdling {
                self.session.idlePoll()
                self.drain(context: context)
            }
            let limit = self.idleLimit(idle: self.service.idleTimeout, login: self.service.loginTimeout)
            guard context.eventLoop.now - self.lastActivity >= limit else { return true }
            self.logger.info("idle timeout, closing")
            if self.session.phase == .command && self.writable {
                self.session.timeoutFired()
                self.drain(context: context)
            } else {
                context.close(promise: nil)
            }
            return false
        }
    }
}
