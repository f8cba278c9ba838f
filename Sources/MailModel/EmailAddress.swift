/// A mailbox address `local-part@domain` as carried in the SMTP envelope (RFC 5321 4.1.2, RFC 6531 for UTF-8).
///
/// The local part is kept exactly as the peer wrote it, quotes included: RFC 5321 2.4 says only the
/// destination host may interpret it, so a relay must pass it on unchanged.
public struct EmailAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public let localPart: String
    public let domain: Domain

    public init(localPart: String, domain: Domain) {
        self.localPart = localPart
        self.domain = domain
    }

    /// Parses a bare mailbox (no angle brackets), e.g. `alice@example.com` or `"a b"@[192.0.2.1]`.
    public init(parsing text: String) throws(AddressSyntaxError) {
        var cursor = AddressCursor(Array(text.utf8))
        self = try cursor.parseMailbox()
        guard cursor.isAtEnd else { throw .unexpectedCharacter(cursor.describeCurrent()) }
    }

    /// Parses an RFC 5321 path: `<mailbox>`, with an optional source route (`<@a,@b:user@c>`) that is
    /// accepted and dropped (RFC 5321 4.1.1.3 and appendix C).
    public init(parsingPath text: some StringProtocol) throws(AddressSyntaxError) {
        var cursor = AddressCursor(Array(text.utf8))
        self = try cursor.parsePath()
        guard cursor.isAtEnd else { throw .unexpectedCharacter(cursor.describeCurrent()) }
    }

    /// True when the address has a non-ASCII character and so needs SMTPUTF8 (RFC 6531 3.2).
    public var isASCII: Bool { localPart.utf8.allSatisfy { $0 < 0x80 } && domain.isASCII }

    /// True when the local part is a quoted string (`"..."`).
    public var hasQuotedLocalPart: Bool { localPart.hasPrefix("\"") }

    public var description: String { "\(localPart)@\(domain.name)" }

    /// Local parts compare exactly (RFC 5321 2.4); domains case-insensitively.
    public static func == (lhs: EmailAddress, rhs: EmailAddress) -> Bool {
        lhs.localPart == rhs.localPart && lhs.domain == rhs.domain
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(localPart)
        hasher.combine(domain)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try EmailAddress(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "invalid address \(text): \(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why an address did not parse. The description is fit to put in a 501 reply.
public enum AddressSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case missingAngleBrackets
    case missingAt
    case emptyLocalPart
    case badLocalPart
    case badDomain
    case badAddressLiteral
    case localPartTooLong
    case domainTooLong
    case pathTooLong
    case unexpectedCharacter(String)

    public var description: String {
        switch self {
        case .empty: "empty address"
        case .missingAngleBrackets: "address must be enclosed in <>"
        case .missingAt: "address has no @domain"
        case .emptyLocalPart: "address has an empty local part"
        case .badLocalPart: "invalid character in local part"
        case .badDomain: "invalid domain"
        case .badAddressLiteral: "invalid address literal"
        case .localPartTooLong: "local part longer than 64 octets"
        case .domainTooLong: "domain longer than 255 octets"
        case .pathTooLong: "path longer than 256 octets"
        case .unexpectedCharacter(let what): "unexpected \(what)"
        }
    }
}
