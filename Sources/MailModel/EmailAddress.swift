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

    /// Parses a bare mailbox (no angle brackets), e.g. `alice@example.com` or `"a b"@[192.0.2.1]`. The
    /// default limits take any address we could have written: intake passes its own.
    public init(parsing text: String, limits: AddressLimits = .unlimited) throws(AddressSyntaxError) {
        var cursor = AddressCursor(Array(text.utf8), limits: limits)
        self = try cursor.parseMailbox()
        guard cursor.isAtEnd else { throw .unexpectedCharacter(cursor.describeCurrent()) }
    }

    /// Parses an RFC 5321 path: `<mailbox>`, with an optional source route (`<@a,@b:user@c>`) that is
    /// accepted and dropped (RFC 5321 4.1.1.3 and appendix C).
    public init(parsingPath text: some StringProtocol, limits: AddressLimits = .unlimited) throws(AddressSyntaxError) {
        var cursor = AddressCursor(Array(text.utf8), limits: limits)
        self = try cursor.parsePath()
        guard cursor.isAtEnd else { throw .unexpectedCharacter(cursor.describeCurrent()) }
    }

    /// True when the address has a non-ASCII character and so needs SMTPUTF8 (RFC 6531 3.2).
    public var isASCII: Bool { localPart.utf8.allSatisfy { $0 < 0x80 } && domain.isASCII }

    /// True when the local part is a quoted string (`"..."`).
    public var hasQuotedLocalPart: Bool { localPart.hasPrefix("\"") }

    /// The local part's content: a quoted string without its quotes and backslash escapes (RFC 5321 4.1.2),
    /// a dot-string as it is. `"a b"` gives `a b`.
    public var unquotedLocalPart: String { Self.unquoted(localPart) }

    /// `text` unquoted, if it is a quoted string; as it is otherwise.
    /// Works on scalars: as Characters, a combining mark after a quote would join it and hide it.
    public static func unquoted(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count >= 2, scalars.first == "\"", scalars.last == "\"" else { return text }
        var result = String.UnicodeScalarView()
        var escaped = false
        for scalar in scalars.dropFirst().dropLast() {
            if !escaped && scalar == "\\" {
                escaped = true
                continue
            }
            escaped = false
            result.append(scalar)
        }
        return String(result)
    }

    /// A local part for `content`: as it is when it is a valid dot-string, else a quoted string with `"` and
    /// `\` escaped, so that any content makes an address the SMTP grammar accepts.
    public static func localPart(quotingIfNeeded content: String) -> String {
        var cursor = AddressCursor(Array((content + "@x").utf8), limits: .unlimited)
        if !content.isEmpty, content.unicodeScalars.first != "\"", (try? cursor.parseMailbox()) != nil, cursor.isAtEnd {
            return content
        }
        var quoted = String.UnicodeScalarView(["\""])
        for scalar in content.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { quoted.append("\\") }
            quoted.append(scalar)
        }
        quoted.append("\"")
        return String(quoted)
    }

    public var description: String { "\(localPart)@\(domain.name)" }

    /// Local parts compare exactly (RFC 5321 2.4); domains case-insensitively.
    public static func == (lhs: EmailAddress, rhs: EmailAddress) -> Bool {
        lhs.localPart == rhs.localPart && lhs.domain == rhs.domain
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(localPart)
        hasher.combine(domain)
    }

    /// Reads back what `encode` wrote, verbatim: local part, then `@`, then domain, split at the last `@`
    /// (a domain has none). No grammar and no length limit apply here: the spool must read every address it
    /// wrote, whatever the intake limits are now and however the address was made (SRS builds local parts
    /// the SMTP grammar may not have seen). What is stored was checked once, and the record is checksummed.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let at = text.utf8.lastIndex(of: UInt8(ascii: "@")), at != text.utf8.startIndex,
            text.utf8.index(after: at) != text.utf8.endIndex
        else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "invalid address \(text): not local@domain"))
        }
        self.init(
            localPart: String(Substring(text.utf8[..<at])),
            domain: Domain(String(Substring(text.utf8[text.utf8.index(after: at)...]))))
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
    case localPartTooLong(limit: Int)
    case domainTooLong
    case pathTooLong(limit: Int)
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
        case .localPartTooLong(let limit): "local part longer than \(limit) octets"
        case .domainTooLong: "domain longer than 255 octets"
        case .pathTooLong(let limit): "path longer than \(limit) octets"
        case .unexpectedCharacter(let what): "unexpected \(what)"
        }
    }
}

/// How long an address may be. RFC 5321 4.5.3.1 sets 64 octets for a local part and 256 for a path as the
/// least a server must accept, not as caps ("to the maximum extent possible, implementation techniques
/// that impose no limits ... should be used"), and real senders pass them: a 36-character bounce address
/// of SES or Mailchimp, rewritten with SRS by a forwarder, has a local part of 90 octets or more.
public struct AddressLimits: Sendable, Equatable {
    /// Octets in the local part, quotes included.
    public var maxLocalPart: Int

    public init(maxLocalPart: Int) {
        self.maxLocalPart = maxLocalPart
    }

    /// The whole `<path>`: the mailbox at its longest, its brackets, and room for a source route (which
    /// RFC 5321 4.1.1.3 says to accept and ignore) as long as RFC 5321's own path limit.
    public var maxPath: Int {
        let (sum, overflow) = maxLocalPart.addingReportingOverflow(1 + AddressCursor.maxDomain + 2 + 256)
        return overflow ? .max : sum
    }

    /// What RCPT takes: room beyond MAIL's limit for the SRS address we make of a sender MAIL took (SRS0
    /// adds up to 269 octets with the sender's domain, SRS1 up to 262 with a forwarder's), so that a
    /// bounce to it, which arrives as a RCPT, is never refused by our own limit.
    public var forRecipients: AddressLimits {
        let (sum, overflow) = maxLocalPart.addingReportingOverflow(Self.srsRoom)
        return AddressLimits(maxLocalPart: overflow ? .max : sum)
    }

    static let srsRoom = 300

    /// RFC 5321's minimum, for tests and for peers that want no more.
    public static let rfc5321 = AddressLimits(maxLocalPart: 64)
    /// What intake takes by default (`smtp.max_local_part`): the longest SRS address of a long sender.
    public static let intake = AddressLimits(maxLocalPart: 512)
    /// No limit but the domain's: for reading back what the spool, the rules or SRS wrote, whatever the
    /// intake limit is set to now.
    public static let unlimited = AddressLimits(maxLocalPart: .max)
}
