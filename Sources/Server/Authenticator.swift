import Logging
import MailModel
import Mailbox
import NIOCore
import NIOPosix
import ProtocolSupport
import SMTPProtocol
import Synchronization

/// Checks credentials (SMTP AUTH, POP3 and IMAP logins) against the users file, off the event loop, with
/// the penalties of `AuthFailureLimiter`: per client and per account, growing with recent failures.
public final class Authenticator: Sendable {
    public let verifier: PasswordVerifier
    private let limiter: Mutex<AuthFailureLimiter>
    private let failureDelay: Duration
    private let threadPool: NIOThreadPool
    private let clock: @Sendable () -> Duration
    private let logger: Logger

    public init(
        verifier: PasswordVerifier, limiter: AuthFailureLimiter, threadPool: NIOThreadPool, logger: Logger,
        clock: @escaping @Sendable () -> Duration = Clocks.monotonic
    ) {
        self.verifier = verifier
        self.limiter = Mutex(limiter)
        self.failureDelay = limiter.delayPerFailure
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

    /// Checks the credentials. The reply is held for the attempt's penalty (`AuthFailureLimiter`) whatever
    /// the outcome, so the delay tells a guesser nothing; a wrong password is also held at least
    /// `failureDelay`. Nobody is locked out: the password is always checked.
    public func authenticate(_ credentials: Credentials, from client: IPAddress?, on eventLoop: any EventLoop)
        -> EventLoopFuture<Verdict>
    {
        let attempt = limiter.withLock { $0.begin(client, account: credentials.username, now: clock()) }
        return threadPool.runIfActive(eventLoop: eventLoop) { [verifier] in
            verifier.verify(username: credentials.username, password: credentials.password)
        }.map { [self] outcome in
            // Only a wrong password counts; a broken users file is our fault.
            let failed = if case .rejected = outcome { true } else { false }
            limiter.withLock { $0.finish(attempt, failed: failed) }
            switch outcome {
            case .accepted:
                return Verdict(result: .accepted, delay: attempt.penalty)
            case .rejected:
                return Verdict(result: .rejected, delay: max(attempt.penalty, failureDelay))
            case .unavailable(let reason):
                logger.error("users file unusable, AUTH refused", metadata: ["error": "\(reason)"])
                return Verdict(result: .temporaryFailure, delay: .zero)
            }
        }
    }
}
