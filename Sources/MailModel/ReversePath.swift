/// The envelope sender of MAIL FROM (RFC 5321 4.1.1.2): an address, or the null path `<>` that bounces
/// and other notifications use so that they are never bounced in turn.
public enum ReversePath: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case mailbox(EmailAddress)

    public var address: EmailAddress? {
        if case .mailbox(let address) = self { return address }
        return nil
    }

    /// `<>` or `<local@domain>`, as in logs and in MAIL FROM.
    public var description: String {
        switch self {
        case .null: "<>"
        case .mailbox(let address): "<\(address)>"
        }
    }

    public var isASCII: Bool { address?.isASCII ?? true }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if text.isEmpty {
            self = .null
        } else {
            self = .mailbox(try EmailAddress(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(address?.description ?? "")
    }
}
