import MailModel

/// Accepts every recipient from everyone. Only for `relaygate bench sink`, which stores nothing; never
/// used by `serve`.
public struct AcceptAllPolicy: RecipientPolicy {
    public init() {}

    public func decide(recipient: EmailAddress, for submission: SubmissionContext) -> RecipientDecision {
        .accept([Destination(address: recipient, route: .discard)])
    }
}
