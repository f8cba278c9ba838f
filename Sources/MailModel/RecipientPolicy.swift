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
    /// Relaygate itself is the sender (a bounce or a delay warning): it may send anywhere.
    public var isLocal: Bool

    public init(clientAddress: IPAddress?, authenticatedUser: String?, sender: ReversePath, isLocal: Bool = false) {
        self.clientAddress = clientAddress
        self.authenticatedUser = authenticatedUser
        self.sender = sender
        self.isLocal = isLocal
    }
}

public enum RecipientDecision: Sendable, Equatable {
    /// Take the recipient: its copies go to these destinations (several when a rule forwards to several
    /// targets; none is never returned).
    case accept([Destination])
    case refuse(SMTPReply)
}

/// One final destination chosen for a recipient.
public struct Destination: Sendable, Equatable {
    public var address: EmailAddress
    public var route: Route
    /// The rule that chose it, as `file:line`; nil for relayed mail.
    public var rule: String?
    /// The envelope sender to deliver with, when not the message's own (SRS for a forward).
    public var sender: ReversePath?

    public init(address: EmailAddress, route: Route, rule: String? = nil, sender: ReversePath? = nil) {
        self.address = address
        self.route = route
        self.rule = rule
        self.sender = sender
    }
}
