import MailModel
import Synchronization

/// The router sessions ask, replaceable as a whole while they run: a reload builds a new `Router` and swaps
/// it in with `replace`, so every RCPT sees either the old rules or the new ones, never a mixture, and no
/// connection is dropped.
public final class RecipientRouter: RecipientPolicy {
    private let current: Mutex<Router>

    public init(_ router: Router) {
        current = Mutex(router)
    }

    public var router: Router { current.withLock { $0 } }

    public func replace(with router: Router) {
        current.withLock { $0 = router }
    }

    public func decide(recipient: EmailAddress, for submission: SubmissionContext) -> RecipientDecision {
        router.resolve(recipient, for: submission).decision
    }
}
