import MailModel

/// The limits and identity an SMTP server session works with. Every limit here has a test.
public struct SMTPServerConfiguration: Sendable {
    /// The name we give in the greeting, EHLO reply and Received header.
    public var hostname: String
    /// Longest command line, CRLF included. RFC 5321 4.5.3.1.4 sets 512 as a floor; extensions such as
    /// SIZE, ENVID, ORCPT and SMTPUTF8 make longer lines legitimate. Postfix uses 2048.
    public var maxCommandLineLength: Int = 2048
    /// How long a sender or recipient address may be (`smtp.max_local_part`). RFC 5321's 64-octet local part
    /// is a minimum; SRS addresses of long senders pass it.
    public var addressLimits: AddressLimits = .intake
    /// Longest SASL response line: RFC 4954 4 says 12288 octets must be accepted.
    public var maxSASLLineLength: Int = 12288
    /// Largest message accepted, in octets of content as the client sent it (before our Received header).
    public var maxMessageSize: Int = 50 * 1024 * 1024
    /// RCPTs accepted per transaction; each one over it is answered 452 4.5.3 (RFC 5321 4.5.3.1.10).
    public var maxRecipients: Int = 1000
    /// Failed commands (5xx replies) tolerated in a row before the session is ended with 421. The count starts
    /// again after each accepted message.
    public var maxErrors: Int = 10
    /// A message whose stored copy would carry more Received fields than this is refused as a mail loop.
    public var maxReceivedHeaders: Int = 50
    /// Whether STARTTLS can be offered (a certificate is configured).
    public var startTLSAvailable: Bool = true
    /// Whether AUTH can be offered at all (a users file is configured); it is still offered only over TLS.
    public var authAvailable: Bool = true

    public init(hostname: String) {
        self.hostname = hostname
    }
}
