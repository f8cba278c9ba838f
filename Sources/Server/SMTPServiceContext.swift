import Logging
import MailModel
import NIOCore
import NIOSSL
import SMTPProtocol

/// What every SMTP connection shares: settings, policy, where messages go, how credentials are checked.
public struct SMTPServiceContext: Sendable {
    public var configuration: SMTPServerConfiguration
    public var watchdogLimits: SessionWatchdog.Limits
    /// How often a connection checks its watchdog.
    public var watchdogInterval: TimeAmount
    public var policy: any RecipientPolicy
    public var store: any MessageStore
    /// Nil when there is no users file: AUTH is then never offered.
    public var authenticator: Authenticator?
    /// Nil when TLS is not set up: STARTTLS is then not offered (only `bench sink` runs so).
    public var tlsContext: NIOSSLContext?
    public var connectionLimiter: ConnectionLimiter
    public var logger: Logger
    public var makeQueueID: @Sendable () -> QueueID
    /// On a stop, how long a session in a transaction may take to finish it before it is told 421 and closed.
    public var shutdownGrace: TimeAmount = .seconds(10)
    /// Whether an authenticated user may use an envelope sender (the users file's `send_as`).
    public var userMaySend: @Sendable (String, EmailAddress) -> Bool = { _, _ in true }

    public init(
        configuration: SMTPServerConfiguration, watchdogLimits: SessionWatchdog.Limits, policy: any RecipientPolicy,
        store: any MessageStore, authenticator: Authenticator?, tlsContext: NIOSSLContext?,
        connectionLimiter: ConnectionLimiter, logger: Logger,
        makeQueueID: @escaping @Sendable () -> QueueID = QueueID.now
    ) {
        self.configuration = configuration
        self.watchdogLimits = watchdogLimits
        self.watchdogInterval = Self.interval(for: watchdogLimits)
        self.policy = policy
        self.store = store
        self.authenticator = authenticator
        self.tlsContext = tlsContext
        self.connectionLimiter = connectionLimiter
        self.logger = logger
        self.makeQueueID = makeQueueID
    }

    /// A quarter of the shortest timeout, between 10 ms and 5 s: timeouts fire within 25% of their setting.
    static func interval(for limits: SessionWatchdog.Limits) -> TimeAmount {
        let shortest = Clocks.nanoseconds(min(limits.commandTimeout, limits.dataTimeout) / 4)
        return .nanoseconds(min(max(shortest, 10_000_000), 5_000_000_000))
    }
}

extension QueueID {
    /// A queue ID for a message arriving now.
    @Sendable public static func now() -> QueueID {
        var generator = SystemRandomNumberGenerator()
        return QueueID.make(microsecondsSince1970: UInt64(Clocks.wallSeconds() * 1_000_000), using: &generator)
    }
}
