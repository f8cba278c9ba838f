import MailModel

/// Where a group of a message's recipients goes in one transaction.
public enum NextHop: Sendable, Hashable, CustomStringConvertible {
    /// The MX hosts of this domain (by its comparison key).
    case mx(domain: String)
    case relay(String)
    case host(String, port: Int)
    case mailbox(String)
    case discard

    /// Delivered over SMTP (as opposed to locally).
    public var isSMTP: Bool {
        switch self {
        case .mx, .relay, .host: true
        case .mailbox, .discard: false
        }
    }

    public var description: String {
        switch self {
        case .mx(let domain): "mx:\(domain)"
        case .relay(let name): "relay:\(name)"
        case .host(let host, let port): "[\(host)]:\(port)"
        case .mailbox(let name): "mailbox:\(name)"
        case .discard: "discard"
        }
    }
}

/// One transaction's worth: the pending recipients of a message that share a next hop and an envelope
/// sender (a forward's SRS sender differs from the message's own).
public struct DeliveryJob: Sendable {
    public let nextHop: NextHop
    public let sender: ReversePath
    /// Indices into the envelope's recipients.
    public let recipients: [Int]
}

public enum DeliveryPlan {
    /// The jobs for a message's pending recipients, in the order their first recipient appears.
    public static func jobs(for envelope: Envelope) -> [DeliveryJob] {
        var order: [Key] = []
        var groups: [Key: [Int]] = [:]
        for (index, recipient) in envelope.recipients.enumerated() where recipient.status == .pending {
            let key = Key(nextHop: nextHop(for: recipient), sender: recipient.sender ?? envelope.sender)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(index)
        }
        return order.map { DeliveryJob(nextHop: $0.nextHop, sender: $0.sender, recipients: groups[$0]!) }
    }

    static func nextHop(for recipient: Recipient) -> NextHop {
        switch recipient.route ?? .mx {
        case .mx: .mx(domain: recipient.address.domain.key)
        case .relay(let name): .relay(name)
        case .host(let host, let port): .host(host, port: port)
        case .mailbox(let name): .mailbox(name)
        case .discard: .discard
        }
    }

    private struct Key: Hashable {
        let nextHop: NextHop
        let sender: ReversePath
    }
}
