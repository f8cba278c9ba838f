import IMAPProtocol
import Logging
import Mailbox
import NIOCore
import NIOPosix
import NIOSSL

/// What every IMAP connection shares.
public struct IMAPServiceContext: Sendable {
    public var configuration: IMAPSession.Configuration
    /// RFC 3501 5.4: at least 30 minutes.
    public var idleTimeout: TimeAmount = .minutes(30)
    /// Before login: no complete command for this long closes the connection.
    public var loginTimeout: TimeAmount = .minutes(3)
    /// How often a session in IDLE looks for changes to push (new mail, other sessions' flags and expunges).
    public var idlePollInterval: TimeAmount = .seconds(2)
    /// Folder listings shared among the sessions that have the same folder selected.
    public var listings = FolderListingCache()
    public var tlsContext: NIOSSLContext?
    public var authenticator: Authenticator?
    public var store: MailboxStore
    public var threadPool: NIOThreadPool
    /// The mailbox a logged-in user reads, or nil if they have none.
    public var mailboxOf: @Sendable (String) -> String?
    public var connectionLimiter: ConnectionLimiter
    public var logger: Logger

    public init(
        configuration: IMAPSession.Configuration, tlsContext: NIOSSLContext?, authenticator: Authenticator?,
        store: MailboxStore, threadPool: NIOThreadPool, mailboxOf: @escaping @Sendable (String) -> String?,
        connectionLimiter: ConnectionLimiter, logger: Logger
    ) {
        self.configuration = configuration
        self.tlsContext = tlsContext
        self.authenticator = authenticator
        self.store = store
        self.threadPool = threadPool
        self.mailboxOf = mailboxOf
        self.connectionLimiter = connectionLimiter
        self.logger = logger
    }
}

/// The IMAP listeners: 143 with STARTTLS and 993 with implicit TLS (RFC 8314).
public final class IMAPServer: Sendable {
    public let service: IMAPServiceContext
    private let listeners: ListenerSet

    public init(service: IMAPServiceContext, group: any EventLoopGroup) {
        self.service = service
        listeners = ListenerSet(group: group, tlsContext: service.tlsContext, logger: service.logger) {
            remote, implicitTLS in
            IMAPServerHandler(service: service, remoteAddress: remote, implicitTLS: implicitTLS)
        }
    }

    public func start(_ listeners: [ListenerSet.Listener]) async throws -> [ListenerSet.BoundListener] {
        try await self.listeners.start(listeners)
    }

    /// Stops accepting and tells every session `* BYE` once the command it is running is answered.
    public func shutdown() async {
        await listeners.shutdown(timeout: .seconds(5))
    }
}
