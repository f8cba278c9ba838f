import Logging
import NIOCore
import NIOSSL
import POP3Protocol

/// What every POP3 connection shares.
public struct POP3ServiceContext: Sendable {
    public var configuration: POP3Session.Configuration
    /// RFC 1939 3: at least 10 minutes.
    public var idleTimeout: TimeAmount = .minutes(10)
    /// Before login: no complete command for this long closes the connection.
    public var loginTimeout: TimeAmount = .minutes(3)
    public var tlsContext: NIOSSLContext?
    /// Nil when there is no users file: no one can log in.
    public var authenticator: Authenticator?
    public var maildrops: Maildrops
    public var connectionLimiter: ConnectionLimiter
    public var logger: Logger

    public init(
        configuration: POP3Session.Configuration, tlsContext: NIOSSLContext?, authenticator: Authenticator?,
        maildrops: Maildrops, connectionLimiter: ConnectionLimiter, logger: Logger
    ) {
        self.configuration = configuration
        self.tlsContext = tlsContext
        self.authenticator = authenticator
        self.maildrops = maildrops
        self.connectionLimiter = connectionLimiter
        self.logger = logger
    }
}

/// The POP3 listeners: 110 with STLS and 995 with implicit TLS (RFC 8314).
public final class POP3Server: Sendable {
    public let service: POP3ServiceContext
    private let listeners: ListenerSet

    public init(service: POP3ServiceContext, group: any EventLoopGroup) {
        self.service = service
        listeners = ListenerSet(group: group, tlsContext: service.tlsContext, logger: service.logger) {
            remote, implicitTLS in
            POP3ServerHandler(service: service, remoteAddress: remote, implicitTLS: implicitTLS)
        }
    }

    public func start(_ listeners: [ListenerSet.Listener]) async throws -> [ListenerSet.BoundListener] {
        try await self.listeners.start(listeners)
    }

    /// Stops accepting and closes every session with -ERR; a session in UPDATE (removing what QUIT
    /// committed) finishes first. Nothing else is deleted.
    public func shutdown() async {
        await listeners.shutdown(timeout: .seconds(5))
    }
}
