import MailModel

/// The trace field we prepend to every message we accept (RFC 5321 4.4, RFC 3848 for the `with` keyword):
///
///     Received: from client.example ([192.0.2.1])
///             (using TLSv1.3)
///             by mx.example.org (Relaygate) with ESMTPSA id 0N4Y2K7H3QWBC5DE
///             for <bob@example.net>; Thu, 26 Nov 2026 17:00:00 +0000
///
/// `for` is given only when there is one recipient, so that one recipient never learns of the others.
/// Every value in it is either ours or was validated as printable ASCII by the parser (the HELO name) or
/// by the address grammar, so a client cannot break the header.
public struct ReceivedHeader: Sendable, Equatable {
    public var helo: String
    public var clientAddress: IPAddress?
    public var byHost: String
    public var protocolName: String
    public var tlsVersion: String?
    public var queueID: QueueID
    public var recipient: EmailAddress?

    public func rendered(secondsSince1970: Int) -> String {
        let address = clientAddress.map { $0.isIPv6 ? "[IPv6:\($0)]" : "[\($0)]" } ?? "unknown"
        var text = "Received: from \(helo) (\(address))\r\n"
        if let tlsVersion { text += "\t(using \(tlsVersion))\r\n" }
        text += "\tby \(byHost) (Relaygate) with \(protocolName) id \(queueID)"
        if let recipient { text += "\r\n\tfor <\(recipient)>" }
        text += "; \(RFC5322Date.format(secondsSince1970: secondsSince1970))\r\n"
        return text
    }
}
