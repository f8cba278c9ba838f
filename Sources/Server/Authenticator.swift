import Logging
import MailModel
import Mailbox
import NIOCore
import NIOPosix
import ProtocolSupport
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
        let attempt = client.map { client in limiter.withLock { $0.begin(client, now: clock()) } }
        if case .some(.none) = attempt {
            return eventLoop.makeSucceededFuture(Verdict(result: .throttled, delay: .zero))
        }
        return threadPool.runIfActive(eventLoop: eventLoop) { [verifier] in
            verifier.verify(username: credentials.username, password: credentials.password)
        }.map { [self] outcome in
            // Only a wrong password counts against the client; a broken users file is our fault.
            let failed = if case .rejected = outcome { true } else { false }
            let delay = attempt?.map { attempt in limiter.withLock { $0.finish(attempt, failed: failed) } }
            switch outcome {
            case .accepted:
                return Verdict(result: .accepted, delay: .zero)
            case .rejected:
                return Verdict(result: .rejected, delay: delay ?? .zero)
            case .unavailable(let reason):
                logger.error("users file unusable, AUTH refused", metadata: ["error": "\(reason)"])
                return Verdict(result: .temporaryFailure, delay: .zero)
            }
        }
    }
}
