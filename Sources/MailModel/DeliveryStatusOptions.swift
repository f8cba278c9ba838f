/// The DSN extension's per-message and per-recipient requests (RFC 3461 4), kept in the envelope so that
/// delivery honours them and bounces can quote them.

/// `NOTIFY=` on RCPT: when the sender wants a delivery status notification.
public struct NotifyConditions: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Condition: String, Sendable, Hashable, Codable, CaseIterable {
        case success = "SUCCESS"
        case failure = "FAILURE"
        case delay = "DELAY"
    }

    /// Empty means `NEVER`.
    public let conditions: Set<Condition>

    public static let never = NotifyConditions(conditions: [])

    public init(conditions: Set<Condition>) {
        self.conditions = conditions
    }

    /// Parses `NEVER` or a comma-separated list of SUCCESS, FAILURE, DELAY (case-insensitive). NEVER may
    /// not be combined with anything else, and no keyword may repeat.
    public init?(parameter value: String) {
        let words = value.uppercased().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if words == ["NEVER"] {
            self = .never
            return
        }
        var set = Set<Condition>()
        for word in words {
            guard let condition = Condition(rawValue: word), set.insert(condition).inserted else { return nil }
        }
        self.conditions = set
    }

    public var isNever: Bool { conditions.isEmpty }

    public var description: String {
        isNever ? "NEVER" : Condition.allCases.filter(conditions.contains).map(\.rawValue).joined(separator: ",")
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = NotifyConditions(parameter: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad NOTIFY"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// `RET=` on MAIL: whether a failure notice carries the whole message or only its headers.
public enum ReturnContent: String, Sendable, Hashable, Codable {
    case full = "FULL"
    case headers = "HDRS"
}

/// `ORCPT=addr-type;xtext` on RCPT: the recipient as the original sender named it, decoded from xtext.
public struct OriginalRecipient: Sendable, Hashable, Codable, CustomStringConvertible {
    public let addressType: String
    public let address: String

    public init(addressType: String, address: String) {
        self.addressType = addressType
        self.address = address
    }

    /// The parameter form again, re-encoded as xtext.
    public var description: String { "\(addressType);\(XText.encode(address.utf8))" }
}

/// `BODY=` on MAIL (RFC 6152): what the client says the content is. BINARYMIME is not offered.
public enum BodyType: String, Sendable, Hashable, Codable {
    case sevenBit = "7BIT"
    case eightBitMIME = "8BITMIME"
}
