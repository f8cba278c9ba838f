import Logging
import MailModel
import Mailbox
import NIOCore
import NIOPosix
import SMTPProtocol
import Synchronization

/// Checks SMTP AUTH credentials against the users file, off the event loop, with per-client throttling:
/// each failure holds its reply a little longer, and a client that fails too often may not try for a while.
public final class Authenticator: Sendable {
    public let verifier: PasswordVerifier
    private let limiter: Mutex<AuthFailureLimiter>
    private let threadPool: NIOThreadPool
    private let clock: @Sendable () -> Duration
    private let logger: Logger

    public init(
        verifier: PasswordVerifier, limiter: AuthFailureLimiter, threadPool: NIOThreadPool, logger: Logger,
        clock: @escaping @Sendable () -> Duration = Clocks.monotonic
    ) {
        self.verifier = verifier
        self.limiter = Mutex(limiter)
        self.threadPool = threadPool
        self.clock = clock
        self.logger = logger
    }

    /// Whether AUTH can be offered (someone is in the users file).
    public var isAvailable: Bool { verifier.hasUsers }

    public struct Verdict: Sendable {
        public let result: AuthenticationResult
        /// How long to hold the reply.
        public let delay: Duration
    }

    public func authenticate(_ credentials: Credentials, from client: IPAddress?, on eventLoop: any EventLoop)
        -> EventLoopFuture<Verdict>
    {
        if let client, !limiter.withLock({ $0.mayAttempt(client, now: clock()) }) {
            return eventLoop.makeSucceededFuture(Verdict(result: .throttled, delay: .zero))
        }
        return threadPool.runIfActive(eventLoop: eventLoop) { [verifier] in
            verifier.verify(username: credentials.username, password: credentials.password)
        }.map { [self] outcome in
            switch outcome {
            case .accepted:
                if let client { limiter.withLock { $0.recordSuccess(client) } }
                return Verdict(result: .accepted, delay: .zero)
            case .rejected:
                let delay = client.map { client in limiter.withLock { $0.recordFailure(client, now: clock()) } }
                return Verdict(result: .rejected, delay: delay ?? .zero)
            case .unavailable(let reason):
                logger.error("users file unusable, AUTH refused", metadata: ["error": "\(reason)"])
                return Verdict(result: .temporaryFailure, delay: .zero)
            }
        }
    }
}
