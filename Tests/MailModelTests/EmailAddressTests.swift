import MailModel
import Testing

@Suite struct EmailAddressTests {
    @Test(arguments: [
        ("<alice@example.org>", "alice", "example.org"),
        ("<Alice.Smith+tag@Example.ORG>", "Alice.Smith+tag", "Example.ORG"),
        ("<\"a b\"@example.org>", "\"a b\"", "example.org"),
        ("<\"a\\\"b\"@example.org>", "\"a\\\"b\"", "example.org"),
        ("<user@[192.0.2.1]>", "user", "[192.0.2.1]"),
        ("<user@[IPv6:2001:db8::1]>", "user", "[IPv6:2001:db8::1]"),
        ("<@a.example,@b.example:user@c.example>", "user", "c.example"),
        ("<jösé@exämple.org>", "jösé", "exämple.org"),
        ("<!#$%&'*+-/=?^_`{|}~@example.org>", "!#$%&'*+-/=?^_`{|}~", "example.org"),
    ])
    func parsesValidPaths(_ path: String, _ local: String, _ domain: String) throws {
        let address = try EmailAddress(parsingPath: path)
        #expect(address.localPart == local)
        #expect(address.domain.name == domain)
    }

    @Test(arguments: [
        ("alice@example.org", AddressSyntaxError.missingAngleBrackets),
        ("<alice@example.org", .missingAngleBrackets),
        ("<alice>", .missingAt),
        ("<@example.org>", .unexpectedCharacter("character '>'")),
        ("<alice@>", .badDomain),
        ("<alice@-example.org>", .badDomain),
        ("<alice@example-.org>", .badDomain),
        ("<alice@example..org>", .badDomain),
        ("<.alice@example.org>", .emptyLocalPart),
        ("<alice.@example.org>", .badLocalPart),
        ("<al..ice@example.org>", .badLocalPart),
        ("<al ice@example.org>", .badLocalPart),
        ("<alice@[300.0.0.1]>", .badAddressLiteral),
        ("<alice@[IPv6:zz::1]>", .badAddressLiteral),
        ("<\"unterminated@example.org>", .badLocalPart),
        // Characters that only deceive: a C1 control, a line separator, a bidi override, a bidi isolate.
        ("<ali\u{85}ce@example.org>", .badLocalPart),
        ("<alice\u{2028}@example.org>", .badLocalPart),
        ("<\"a\u{202E}b\"@example.org>", .badLocalPart),
        ("<alice@exa\u{2066}mple.org>", .badDomain),
    ])
    func refusesInvalidPaths(_ path: String, _ error: AddressSyntaxError) {
        #expect(throws: error) { try EmailAddress(parsingPath: path) }
    }

    @Test func hostnamesAreASCIIDomainNames() {
        for good in ["mx.example.org", "localhost", "xn--exmple-cua.org"] {
            #expect(Domain.isHostname(good), "\(good)")
        }
        for bad in ["", "mx_1.example.org", "-mx.example.org", "mx..example.org", "[192.0.2.1]", "exämple.org", "a b", "mx.example.org."] {
            #expect(!Domain.isHostname(bad), "\(bad)")
        }
    }

    /// The local part's limit is the caller's (RFC 5321's 64 is the least to accept); the domain's 255
    /// and a label's 63 are fixed.
    @Test func localPartLimitIsTheCallers() {
        let local64 = String(repeating: "a", count: 64)
        #expect(throws: Never.self) { try EmailAddress(parsingPath: "<\(local64)@example.org>", limits: .rfc5321) }
        #expect(throws: AddressSyntaxError.localPartTooLong(limit: 64)) {
            try EmailAddress(parsingPath: "<\(local64)a@example.org>", limits: .rfc5321)
        }
        let local512 = String(repeating: "s", count: 512)
        #expect(throws: Never.self) { try EmailAddress(parsingPath: "<\(local512)@example.org>", limits: .intake) }
        #expect(throws: AddressSyntaxError.localPartTooLong(limit: 512)) {
            try EmailAddress(parsingPath: "<\(local512)s@example.org>", limits: .intake)
        }
        #expect(throws: Never.self) { try EmailAddress(parsing: String(repeating: "x", count: 5000) + "@example.org") }
        // The longest mailbox the limit allows fits in the path limit, with a source route.
        let label = String(repeating: "b", count: 63)
        let longDomain = Array(repeating: label, count: 4).joined(separator: ".")  // 255 octets
        #expect(throws: Never.self) {
            try EmailAddress(parsingPath: "<@relay.example:\(local64)@\(longDomain)>", limits: .rfc5321)
        }
        #expect(throws: AddressSyntaxError.domainTooLong) { try EmailAddress(parsing: "a@\(longDomain).b") }
        #expect(throws: AddressSyntaxError.badDomain) {
            try EmailAddress(parsingPath: "<a@\(String(repeating: "c", count: 64)).example>")
        }
    }

    /// Quoting works on scalars: a combining mark right after a quote must not hide the quote.
    @Test func quotingAndUnquotingSeeEveryQuote() {
        #expect(EmailAddress.unquoted("\"\u{301}x\"") == "\u{301}x")
        #expect(EmailAddress.unquoted("\"a\\\"b\"") == "a\"b")
        #expect(EmailAddress.localPart(quotingIfNeeded: "a\"\u{301}b") == "\"a\\\"\u{301}b\"")
        #expect(EmailAddress.localPart(quotingIfNeeded: "SRS0=ab=cd=example.org=alice") == "SRS0=ab=cd=example.org=alice")
        #expect(EmailAddress.localPart(quotingIfNeeded: "alice smith") == "\"alice smith\"")
    }

    @Test func comparesDomainsCaseInsensitivelyAndLocalPartsExactly() throws {
        let lower = try EmailAddress(parsing: "bob@example.net")
        #expect(lower == (try EmailAddress(parsing: "bob@EXAMPLE.net")))
        #expect(lower != (try EmailAddress(parsing: "Bob@example.net")))
        #expect(Set([lower, try EmailAddress(parsing: "bob@Example.NET")]).count == 1)
    }

    @Test func knowsWhenSMTPUTF8IsNeeded() throws {
        #expect(try EmailAddress(parsing: "bob@example.net").isASCII)
        #expect(!(try EmailAddress(parsing: "bjørn@example.net").isASCII))
        #expect(!(try EmailAddress(parsing: "bob@exämple.net").isASCII))
        #expect(ReversePath.null.isASCII)
    }
}
