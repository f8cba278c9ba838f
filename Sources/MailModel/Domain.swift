#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A mail domain: the part of an address after the `@` (RFC 5321 4.1.2), or an address literal such as
/// `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
///
/// Domains compare case-insensitively and in one form whatever script they are written in: `name` keeps
/// what the peer wrote; `key`, used for comparison and hashing, is lower-cased, without a trailing root
/// dot, and has each non-ASCII label as its IDNA A-label (NFC, lower-cased, Punycode), so `MÜNCHEN.de`,
/// `münchen.de` (composed or not) and `xn--mnchen-3ya.de` are one domain.
public struct Domain: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The domain as written.
    public let name: String
    /// The comparison form (see the type's comment). Computed once.
    public let key: String

    public init(_ name: String) {
        self.name = name
        self.key = Self.comparisonKey(name)
    }

    static func comparisonKey(_ name: String) -> String {
        var lowered = name.lowercased()
        if lowered.hasPrefix("[") { return lowered }
        if lowered.hasSuffix(".") { lowered.removeLast() }
        guard !lowered.utf8.allSatisfy({ $0 < 0x80 }) else { return lowered }
        let labels = lowered.precomposedStringWithCanonicalMapping.split(separator: ".", omittingEmptySubsequences: false)
        return labels.map { label in
            guard !label.utf8.allSatisfy({ $0 < 0x80 }), let encoded = Punycode.encode(String(label)) else {
                return String(label)
            }
            return "xn--" + encoded
        }.joined(separator: ".")
    }

    /// True for `[...]` address literals.
    public var isAddressLiteral: Bool { name.hasPrefix("[") }

    public var isASCII: Bool { name.utf8.allSatisfy { $0 < 0x80 } }

    public var description: String { name }

    public static func == (lhs: Domain, rhs: Domain) -> Bool { lhs.key == rhs.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

extension Domain {
    /// Parses a domain name as RFC 5321 4.1.2 writes it (`sub-domain *("." sub-domain)`, U-labels allowed),
    /// not an address literal.
    public init(validating text: String) throws(AddressSyntaxError) {
        var cursor = AddressCursor(Array(text.utf8), limits: .unlimited)
        self = try cursor.parseDomain()
        guard cursor.isAtEnd else { throw .unexpectedCharacter(cursor.describeCurrent()) }
    }

    /// Whether `text` can name this host in a greeting, EHLO and Received fields: an ASCII domain name
    /// (RFC 5321 4.1.1.1; a U-label must be given as its A-label, `xn--...`).
    public static func isHostname(_ text: String) -> Bool {
        guard let domain = try? Domain(validating: text) else { return false }
        return domain.isASCII
    }
}
