import IMAPProtocol
import Logging
import NIOCore
import NIOTLS
import POP3Protocol

/// What a pure mail-access session (`POP3Session`, `IMAPSession`) offers its driver alike: bytes in,
/// actions out, and the TLS and shutdown events.
protocol DrivenSession {
    associatedtype Action
    /// True while the session reads commands; otherwise it waits for us, and reading pauses.
    var readsCommands: Bool { get }
    /// Whole commands taken so far: only these count as activity.
    var commandsTaken: Int { get }
    var isAuthenticated: Bool { get }
    mutating func receive(_ bytes: ByteBuffer)
    mutating func next() -> Action?
    mutating func tlsEstablished()
    mutating func shutdownStarted()
}

extension POP3Session: DrivenSession {
    var readsCommands: Bool { phase == .command }
}

extension IMAPSession: DrivenSession {
    var readsCommands: Bool { phase == .command }
}

/// The NIO driver of a `DrivenSession` (POP3ServerHandler, IMAPServerHandler): feeding it what is read,
/// handing its actions to `perform`, and holding reads back while it waits for us or while replies are
/// unwritten above the high-water mark. Each driver only says how to carry out its own actions.
protocol SessionDriver: AnyObject {
    associatedtype Session: DrivenSession
    var session: Session { get set }
    var logger: Logger { get set }
    /// The channel takes more writes (below the high-water mark).
    var writable: Bool { get }
    /// NIO asked for a read while we were paused; it is done when the pause ends.
    var readHeld: Bool { get set }
    var lastActivity: NIODeadline { get set }
    /// The driver's own reason to stop reading (a message written more slowly than it arrives).
    var holdsReads: Bool { get }
    func perform(_ action: Session.Action, context: ChannelHandlerContext)
}

extension SessionDriver {
    var holdsReads: Bool { false }
    var isPaused: Bool { !writable || !session.readsCommands || holdsReads }

    /// From `channelRead`.
    /// The idle clock restarts only when a whole command came in: a client trickling a line (or a TLS
    /// handshake) an octet at a time is still idle.
    func received(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        let taken = session.commandsTaken
        session.receive(bytes)
        if session.commandsTaken != taken { lastActivity = context.eventLoop.now }
        drain(context: context)
    }

    /// How long the session may go without a command: short until it has logged in.
    func idleLimit(idle: TimeAmount, login: TimeAmount) -> TimeAmount {
        session.isAuthenticated ? idle : login
    }

    /// From `userInboundEventTriggered`: the TLS handshake's end and the server's shutdown go to the
    /// session; anything else goes on down the pipeline.
    func sessionEvent(_ event: Any, context: ChannelHandlerContext) {
        switch event {
        case TLSUserEvent.handshakeCompleted:
            logger[metadataKey: "tls"] = "\(SessionDriving.tlsVersion(context: context))"
            session.tlsEstablished()
            drain(context: context)
        case is ChannelShouldQuiesceEvent:
            session.shutdownStarted()
            drain(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// From `read`: reads only while the session takes commands and the channel is writable.
    func readRequested(context: ChannelHandlerContext) {
        if isPaused {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// Carries out every action the session has for us, flushes, and reads again if a read waits.
    func drain(context: ChannelHandlerContext) {
        while let action = session.next() {
            perform(action, context: context)
        }
        context.flush()
        if readHeld && !isPaused {
            readHeld = false
            context.read()
        }
    }
}
