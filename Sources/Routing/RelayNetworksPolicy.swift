import MailModel

/// The intake relay policy: a recipient is accepted when the client authenticated or connects from a
/// trusted network (`relay_networks`); anyone else is refused with 554 5.7.1. With the default networks
/// (loopback only) no stranger can relay: an open relay is impossible without configuring one.
///
/// The forwarding-rules engine replaces this by answering the same `RecipientPolicy` question from rules.
public struct RelayNetworksPolicy: RecipientPolicy {
    public static let defaultNetworks = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]
    public static let relayDenied = SMTPReply(554, EnhancedStatusCode(5, 7, 1), "Relay access denied")

    public let trustedNetworks: [IPNetwork]

    public init(trustedNetworks: [IPNetwork] = defaultNetworks) {
        self.trustedNetworks = trustedNetworks
    }

    public func decide(recipient: EmailAddress, for submission: SubmissionContext) -> RecipientDecision {
        guard mayRelay(submission) else { return .refuse(Self.relayDenied) }
        return .accept([Destination(address: recipient, route: .mx)])
    }

    /// Whether this client may send mail to any address: it authenticated, or it is on a trusted network.
    public func mayRelay(_ submission: SubmissionContext) -> Bool {
        if submission.authenticatedUser != nil || submission.isLocal { return true }
        guard let address = submission.clientAddress else { return false }
        return trustedNetworks.contains { $0.contains(address) }
    }
}
