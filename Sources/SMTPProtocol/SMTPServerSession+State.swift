import MailModel
import ProtocolSupport

extension SMTPServerSession {
    /// Where the session is. Each case names what it waits for and carries its own data.
    enum State {
        /// Not started: the greeting is not out yet.
        case connected
        /// Greeted (or just back from STARTTLS): EHLO or HELO expected.
        case awaitingHello
        /// Said hello; no transaction.
        case ready
        /// MAIL accepted; RCPTs and then DATA expected.
        case mailTransaction(Transaction)
        /// After 354: reading content.
        case receivingData(Transaction, DataBodyReader)
        /// Content complete; the driver is making it durable.
        case awaitingCommit(Transaction)
        /// AUTH in progress: the client's next line is a SASL response.
        case saslResponse(SASLExchange)
        /// The driver is checking credentials.
        case verifyingCredentials(username: String)
        case closed

        var transaction: Transaction? {
            switch self {
            case .mailTransaction(let transaction), .receivingData(let transaction, _),
                .awaitingCommit(let transaction):
                transaction
            default:
                nil
            }
        }

        var acceptsInput: Bool {
            if case .closed = self { return false }
            return true
        }

        var isReceivingData: Bool {
            if case .receivingData = self { return true }
            return false
        }

        /// No transaction to finish: a stop may close the session now.
        var isIdle: Bool {
            switch self {
            case .awaitingHello, .ready, .saslResponse: true
            default: false
            }
        }

        var isSASL: Bool {
            if case .saslResponse = self { return true }
            return false
        }
    }

    struct Hello {
        let name: String
        /// EHLO rather than HELO: extensions and their parameters are allowed.
        let extended: Bool
    }

    enum TLSState: Equatable {
        case none
        case negotiating
        case established(version: String)

        /// STARTTLS was given or the port is implicit TLS: no second STARTTLS, no plaintext offers.
        var isActive: Bool { self != .none }
        /// The handshake is done: only now may a password be sent.
        var isEstablished: Bool { version != nil }

        var version: String? {
            if case .established(let version) = self { return version }
            return nil
        }
    }

    struct Transaction {
        let queueID: QueueID
        let sender: ReversePath
        let parameters: MailParameters
        /// Final recipients: what the accepted RCPTs resolved to, each address once.
        var recipients: [Recipient] = []
        /// The accepted RCPT addresses, to find a repeated RCPT without a scan and to count them.
        var recipientAddresses: Set<EmailAddress> = []
        /// The addresses in `recipients`, so two RCPTs that resolve to one address make one copy.
        var destinations: Set<EmailAddress> = []
    }
}

/// Everything needed to open a message file and write our Received header first.
public struct MessageStart: Sendable {
    public let queueID: QueueID
    /// Our Received header, rendered: the first octets of the content.
    public let receivedHeader: String
}

/// A message whose content is complete and acceptable, ready to be made durable. The session builds its
/// whole envelope, size and arrival included; the spool writes it as it is.
public struct AcceptedMessage: Sendable {
    public let envelope: Envelope
    /// Content octets as the client sent them, unstuffed (the envelope's size adds our Received header).
    public let contentSize: Int

    public var queueID: QueueID { envelope.queueID }
    public var sender: ReversePath { envelope.sender }
    public var recipients: [Recipient] { envelope.recipients }
    public var client: ClientFacts { envelope.client }
}

/// Things the session reports for the log; the driver adds the connection's facts.
public enum SessionEvent: Sendable, Equatable {
    case refused(command: String?, reply: SMTPReply, queueID: QueueID?, sender: ReversePath?, recipient: String?)
    case timeout(phase: String)
    case protocolViolation(String)
}
