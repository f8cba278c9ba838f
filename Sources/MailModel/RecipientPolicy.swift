/// The one narrow question the SMTP session asks about a recipient at RCPT time: may this client hand us mail
/// for this address, and if not, with what reply do we say no?
///
/// Intake ships a relay-networks policy; the forwarding-rules engine answers the same question from rules.
/// Implementations are pure and synchronous: everything they need is in memory.
public protocol RecipientPolicy: Sendable {
    func decide(recipient: EmailAddress, for submission: SubmissionContext) -> RecipientDecision
}

/// What the policy may look at.
public struct SubmissionContext: Sendable {
    public var clientAddress: IPAddress?
    public var authenticatedUser: String?
    public var sender: ReversePath

    public init(clientAddress: IPAddress?, authenticatedUser: String?, sender: ReversePath) {
        self.clientAddress = clientAddress
        self.authenticatedUser = authenticatedUser
        self.sender = sender
    }
}

public enum RecipientDecision: Sendable, Equatable {
    case accept
    case refuse(SMTPReply)
}
