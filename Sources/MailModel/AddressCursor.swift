/// Grammar of RFC 5321 4.1.2 paths and mailboxes over UTF-8 bytes, extended per RFC 6531 3.3 so that
/// `atext` and domain labels may hold UTF-8. The domain limit is RFC 5321 4.5.3.1.2's; the local part's
/// comes from `AddressLimits`, since 4.5.3.1.1's 64 octets is a minimum to accept, not a cap.
struct AddressCursor {
    static let maxDomain = 255

    private let bytes: [UInt8]
    private let limits: AddressLimits
    private(set) var index = 0

    init(_ bytes: [UInt8], limits: AddressLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    var isAtEnd: Bool { index == bytes.count }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }
    var remaining: ArraySlice<UInt8> { bytes[index...] }

    func describeCurrent() -> String {
        guard let byte = current else { return "end of address" }
        if byte >= 0x21, byte < 0x7F { return "character '\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard current == byte else { return false }
        index += 1
        return true
    }

    /// `Path = "<" [ A-d-l ":" ] Mailbox ">"`. Source routes are accepted and ignored (RFC 5321 4.1.1.3, C).
    mutating func parsePath() throws(AddressSyntaxError) -> EmailAddress {
        let start = index
        guard skip(UInt8(ascii: "<")) else { throw .missingAngleBrackets }
        if current == UInt8(ascii: "@") { try skipSourceRoute() }
        let mailbox = try parseMailbox()
        guard skip(UInt8(ascii: ">")) else {
            throw isAtEnd ? .missingAngleBrackets : .unexpectedCharacter(describeCurrent())
        }
        guard index - start <= limits.maxPath else { throw .pathTooLong(limit: limits.maxPath) }
        return mailbox
    }

    /// `A-d-l = At-domain *( "," At-domain )`, then `:`.
    private mutating func skipSourceRoute() throws(AddressSyntaxError) {
        repeat {
            guard skip(UInt8(ascii: "@")) else { throw .badDomain }
            _ = try parseDomain()
        } while skip(UInt8(ascii: ","))
        guard skip(UInt8(ascii: ":")) else { throw .unexpectedCharacter(describeCurrent()) }
    }

    /// `Mailbox = Local-part "@" ( Domain / address-literal )`
    mutating func parseMailbox() throws(AddressSyntaxError) -> EmailAddress {
        guard !isAtEnd, current != UInt8(ascii: ">") else { throw .empty }
        let localStart = index
        if current == UInt8(ascii: "\"") {
            try skipQuotedString()
        } else {
            try skipDotString()
        }
        let localBytes = bytes[localStart..<index]
        guard localBytes.count <= limits.maxLocalPart else { throw .localPartTooLong(limit: limits.maxLocalPart) }
        guard skip(UInt8(ascii: "@")) else {
            throw isAtEnd || current == UInt8(ascii: ">") ? .missingAt : .badLocalPart
        }
        let domain = try parseDomainOrLiteral()
        guard let local = SafeText.text(localBytes) else { throw .badLocalPart }
        return EmailAddress(localPart: local, domain: domain)
    }

    /// `Dot-string = Atom *("." Atom)`
    private mutating func skipDotString() throws(AddressSyntaxError) {
        var isFirstAtom = true
        repeat {
            let atomStart = index
            while let byte = current, Self.isAtext(byte) { index += 1 }
            guard index > atomStart else { throw isFirstAtom ? .emptyLocalPart : .badLocalPart }
            isFirstAtom = false
        } while skip(UInt8(ascii: "."))
    }

    /// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`
    private mutating func skipQuotedString() throws(AddressSyntaxError) {
        index += 1
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                // quoted-pairSMTP = %d92 %d32-126
                index += 1
                guard let escaped = current, escaped >= 32, escaped <= 126 else { throw .badLocalPart }
                index += 1
            case 32...126, 0x80...0xFF:
                index += 1
            default:
                throw .badLocalPart
            }
        }
        throw .badLocalPart
    }

    private mutating func parseDomainOrLiteral() throws(AddressSyntaxError) -> Domain {
        if current == UInt8(ascii: "[") { return try parseAddressLiteral() }
        return try parseDomain()
    }

    /// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str]` (or a U-label).
    mutating func parseDomain() throws(AddressSyntaxError) -> Domain {
        let start = index
        repeat {
            let labelStart = index
            while let byte = current, Self.isLetDigHyphen(byte) { index += 1 }
            let label = bytes[labelStart..<index]
            guard let first = label.first, let last = label.last,
                first != UInt8(ascii: "-"), last != UInt8(ascii: "-"), label.count <= 63
            else { throw .badDomain }
        } while skip(UInt8(ascii: "."))
        guard index - start <= Self.maxDomain else { throw .domainTooLong }
        guard let name = SafeText.text(bytes[start..<index]) else { throw .badDomain }
        return Domain(name)
    }

    /// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General-address-literal ) "]"`
    private mutating func parseAddressLiteral() throws(AddressSyntaxError) -> Domain {
        let start = index
        index += 1
        while let byte = current, byte != UInt8(ascii: "]") {
            guard byte > 32, byte < 127, byte != UInt8(ascii: "["), byte != UInt8(ascii: "\\") else {
                throw .badAddressLiteral
            }
            index += 1
        }
        guard skip(UInt8(ascii: "]")) else { throw .badAddressLiteral }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        let inner = text.dropFirst().dropLast()
        if inner.lowercased().hasPrefix("ipv6:") {
            guard IPAddress(String(inner.dropFirst(5)))?.isIPv6 == true else { throw .badAddressLiteral }
        } else if IPAddress(String(inner))?.isIPv4 != true {
            throw .badAddressLiteral
        }
        return Domain(text)
    }

    /// RFC 5322 atext plus UTF-8 octets (RFC 6531 3.3).
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case 0x80...0xFF:
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    static func isLetDigHyphen(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), 0x80...0xFF:
            return true
        default:
            return false
        }
    }
}
