import struct Foundation.Date

/// Everything about a queued message except its content: who sent it, to whom it goes and how each of those
/// recipients fares, the ESMTP parameters delivery and bounces need, and the facts of the session that
/// handed it over. It is written to the spool after the message's content, in the same file (see `Spool`).
public struct Envelope: Sendable, Equatable, Codable {
    public var queueID: QueueID
    public var sender: ReversePath
    public var recipients: [Recipient]
    public var parameters: MailParameters
    /// When the content was complete and handed to the spool (just before it became durable); the queue
    /// lifetime counts from here.
    public var arrival: Date
    /// Octets of the content, our Received header included: the first `size` octets of the body file, which
    /// holds the envelope after them. Recovery compares it with the file.
    public var size: Int
    public var client: ClientFacts
    /// True when the content has octets above 127: such a body must not go raw to a peer without 8BITMIME.
    public var has8BitContent: Bool
    /// The hostname we said we were when we accepted the message.
    public var receivedBy: String
    /// Delivery attempts made so far.
    public var attempts: Int = 0
    /// When the next attempt is due; nil for a message never tried.
    public var nextAttempt: Date?
    /// True once the delay warning (RFC 3464 "delayed") has gone out, so only one ever does.
    public var delayWarned = false

    public init(
        queueID: QueueID, sender: ReversePath, recipients: [Recipient], parameters: MailParameters,
        arrival: Date, size: Int, has8BitContent: Bool, client: ClientFacts, receivedBy: String
    ) {
        self.queueID = queueID
        self.sender = sender
        self.recipients = recipients
        self.parameters = parameters
        self.arrival = arrival
        self.size = size
        self.has8BitContent = has8BitContent
        self.client = client
        self.receivedBy = receivedBy
    }

    enum CodingKeys: String, CodingKey {
        case queueID = "queue_id", sender, recipients, parameters, arrival, size, client
        case has8BitContent = "8bit"
        case receivedBy = "received_by"
        case attempts
        case nextAttempt = "next_attempt"
        case delayWarned = "delay_warned"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        queueID = try container.decode(QueueID.self, forKey: .queueID)
        sender = try container.decode(ReversePath.self, forKey: .sender)
        recipients = try container.decode([Recipient].self, forKey: .recipients)
        parameters = try container.decode(MailParameters.self, forKey: .parameters)
        arrival = try container.decode(Date.self, forKey: .arrival)
        size = try container.decode(Int.self, forKey: .size)
        client = try container.decode(ClientFacts.self, forKey: .client)
        has8BitContent = try container.decode(Bool.self, forKey: .has8BitContent)
        receivedBy = try container.decode(String.self, forKey: .receivedBy)
        // Delivery state came later: envelopes written before it have none yet.
        attempts = try container.decodeIfPresent(Int.self, forKey: .attempts) ?? 0
        nextAttempt = try container.decodeIfPresent(Date.self, forKey: .nextAttempt)
        delayWarned = try container.decodeIfPresent(Bool.self, forKey: .delayWarned) ?? false
    }
}

/// One recipient of a queued message and how its delivery stands.
public struct Recipient: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        /// Not yet delivered; delivery will try (again).
        case pending
        /// The next hop said 250; never sent again.
        case delivered
        /// Failed for good; a bounce was or will be made.
        case failed
    }

    /// The final address: the RCPT address, or what the rules made of it.
    public var address: EmailAddress
    /// ORCPT (RFC 3461): as the client gave it, or the RCPT address when the rules forwarded it elsewhere.
    public var originalRecipient: OriginalRecipient?
    public var notify: NotifyConditions?
    public var status: Status
    /// Where it goes next. Nil only in envelopes written before routing existed: delivery treats those as `mx`.
    public var route: Route?
    /// The rule that chose this address and route, as `file:line`; nil for mail relayed by an authorized client.
    public var rule: String?
    /// The envelope sender to deliver with, when it is not the message's own: the SRS address of a forward.
    public var sender: ReversePath?
    /// The last failure, with its stage and the peer's reply (`RCPT: 450 4.2.0 mailbox busy`).
    public var lastError: String?

    public init(
        address: EmailAddress, originalRecipient: OriginalRecipient? = nil, notify: NotifyConditions? = nil,
        status: Status = .pending, route: Route? = nil, rule: String? = nil, sender: ReversePath? = nil
    ) {
        self.address = address
        self.originalRecipient = originalRecipient
        self.notify = notify
        self.status = status
        self.route = route
        self.rule = rule
        self.sender = sender
    }

    enum CodingKeys: String, CodingKey {
        case address, notify, status, route, rule, sender
        case originalRecipient = "orcpt"
        case lastError = "last_error"
    }
}

/// The MAIL FROM parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID,
/// RFC 4954 AUTH), decoded.
public struct MailParameters: Sendable, Equatable, Codable {
    public var declaredSize: Int?
    public var body: BodyType?
    public var smtpUTF8: Bool
    public var returnContent: ReturnContent?
    /// ENVID, decoded from xtext.
    public var envelopeID: String?
    /// AUTH=, decoded from xtext; `<>` is kept as the empty string (RFC 4954 5).
    public var authorizedSender: String?

    public init(
        declaredSize: Int? = nil, body: BodyType? = nil, smtpUTF8: Bool = false,
        returnContent: ReturnContent? = nil, envelopeID: String? = nil, authorizedSender: String? = nil
    ) {
        self.declaredSize = declaredSize
        self.body = body
        self.smtpUTF8 = smtpUTF8
        self.returnContent = returnContent
        self.envelopeID = envelopeID
        self.authorizedSender = authorizedSender
    }

    enum CodingKeys: String, CodingKey {
        case declaredSize = "size", body, smtpUTF8 = "smtputf8", returnContent = "ret"
        case envelopeID = "envid", authorizedSender = "auth"
    }
}

/// What we knew about the client when it handed a message over.
public struct ClientFacts: Sendable, Equatable, Codable {
    public var address: String
    public var port: Int?
    /// The EHLO/HELO argument.
    public var helo: String
    public var protocolName: String
    /// `TLSv1.3` and the like, when the session was encrypted.
    public var tlsVersion: String?
    public var authenticatedUser: String?

    public init(
        address: String, port: Int?, helo: String, protocolName: String, tlsVersion: String?,
        authenticatedUser: String?
    ) {
        self.address = address
        self.port = port
        self.helo = helo
        self.protocolName = protocolName
        self.tlsVersion = tlsVersion
        self.authenticatedUser = authenticatedUser
    }

    enum CodingKeys: String, CodingKey {
        case address, port, helo
        case protocolName = "protocol"
        case tlsVersion = "tls"
        case authenticatedUser = "auth_user"
    }
}
