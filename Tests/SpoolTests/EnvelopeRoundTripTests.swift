import Foundation
import MailModel
import Spool
import TestSupport
import Testing

/// A property of the codec: every envelope the spool can write, it reads back equal, whatever intake's
/// limits are. Envelopes are random but repeatable (a fixed seed per run, named in any failure): long,
/// quoted and UTF-8 addresses, SRS-shaped senders, every ESMTP parameter and recipient state, control
/// characters in every free-text field.
@Suite struct EnvelopeRoundTripTests {
    @Test(arguments: 0..<8)
    func everyEnvelopeReadsBackEqual(seed: UInt64) throws {
        var random = SplitMix64(seed: 0x5EED_0000 + seed)
        for round in 0..<250 {
            let envelope = random.envelope()
            let decoded: Envelope
            do {
                decoded = try EnvelopeCodec.decode(EnvelopeCodec.encode(envelope))
            } catch {
                Issue.record("seed \(seed) round \(round): \(error)\n\(envelope)")
                return
            }
            #expect(decoded == envelope, "seed \(seed) round \(round)")
            // Equal is not enough for addresses: their local parts must be the very octets we wrote.
            #expect(decoded.recipients.map(\.address.localPart) == envelope.recipients.map(\.address.localPart))
            #expect(decoded.sender.address?.localPart == envelope.sender.address?.localPart)
        }
    }

    /// The cases that failed before: longer than RFC 5321's minimums, and built by SRS around a quoted
    /// local part, which the SMTP grammar alone would refuse.
    @Test(arguments: [
        String(repeating: "a", count: 65) + "@example.org",
        "SRS0=HHHH=TT=amazonses.com=010001890abcdef0-12345678-9abc-def0-1234-56789abcdef0-000000@fwd.example",
        String(repeating: "l", count: 2000) + "@" + Array(repeating: String(repeating: "d", count: 63), count: 4)
            .joined(separator: "."),
        "SRS0=HHHH=TT=example.org=\"alice smith\"@fwd.example",
        "\"a@b\"@example.org",
        "\"with \\\" quote\"@[IPv6:2001:db8::1]",
        "jörg@münchen.example",
    ])
    func addressesThatUsedToBeQuarantined(_ text: String) throws {
        let at = text.lastIndex(of: "@")!
        let address = EmailAddress(localPart: String(text[..<at]), domain: Domain(String(text[text.index(after: at)...])))
        var envelope = Envelope.sample(.sample())
        envelope.sender = .mailbox(address)
        envelope.recipients[0].address = address
        envelope.recipients[0].sender = .mailbox(address)
        let decoded = try EnvelopeCodec.decode(EnvelopeCodec.encode(envelope))
        #expect(decoded == envelope)
        #expect(decoded.sender.address?.description == text)
    }
}

/// Random envelopes and their parts, from the shared seeded generator.
extension SplitMix64 {
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func bool() -> Bool { Bool.random(using: &self) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }
    mutating func maybe<T>(_ make: (inout SplitMix64) -> T) -> T? { bool() ? make(&self) : nil }

    static let atext = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")
    static let unicode: [Character] = ["ä", "ö", "ü", "ß", "é", "ñ", "中", "文", "д", "я", "🙂"]

    mutating func atom(length: Int) -> String {
        String((0..<length).map { _ in int(0...9) == 0 ? pick(Self.unicode) : pick(Self.atext) })
    }

    mutating func localPart() -> String {
        let length = pick([1, 8, 64, 65, 90, 200, 512, 513, 1500])
        switch int(0...3) {
        case 0:
            // Quoted: spaces, @, >, escaped quotes and backslashes, UTF-8.
            let inside = (0..<max(1, length / 2)).map { _ in
                pick(["a", " ", "@", ">", "\\\"", "\\\\", "ü", "x", "."])
            }.joined()
            return "\"" + inside + "\""
        case 1:
            // SRS-shaped, around another local part (quoted or not).
            let original = bool() ? atom(length: 20) : "\"a b\""
            return "SRS0=\(atom(length: 4))=TT=\(domainName())=\(original)"
        default:
            var parts: [String] = []
            var total = 0
            while total < length {
                let part = atom(length: int(1...max(1, min(40, length - total))))
                parts.append(part)
                total += part.count + 1
            }
            return parts.joined(separator: ".")
        }
    }

    mutating func domainName() -> String {
        switch int(0...5) {
        case 0: return "[192.0.2.\(int(1...254))]"
        case 1: return "[IPv6:2001:db8::\(int(1...999))]"
        case 2: return Array(repeating: String(repeating: "d", count: 63), count: 3).joined(separator: ".") + ".example"
        case 3: return "münchen.example"
        default: return "\(atom(length: int(1...10)).filter { $0.isLetter && $0.isASCII }.lowercased())x.example"
        }
    }

    mutating func address() -> EmailAddress {
        EmailAddress(localPart: localPart(), domain: Domain(domainName()))
    }

    /// Free text a peer or a next hop chose: control characters, quotes, newlines, NUL, UTF-8.
    mutating func text() -> String {
        String((0..<int(0...80)).map { _ in pick(Array("ab \"\\\n\r\t\u{0}\u{1B}{}:,ü🙂<>")) })
    }

    mutating func route() -> Route {
        pick([.mx, .relay("provider"), .host("127.0.0.1", port: 2525), .host("mx.example.net", port: 25), .mailbox("sales"), .discard])
    }

    mutating func recipient() -> Recipient {
        var recipient = Recipient(
            address: address(),
            originalRecipient: maybe { OriginalRecipient(addressType: $0.pick(["rfc822", "utf-8"]), address: $0.text()) },
            notify: maybe { random in
                NotifyConditions(
                    conditions: Set(NotifyConditions.Condition.allCases.filter { _ in random.bool() }))
            },
            status: pick([.pending, .delivered, .failed]), route: maybe { $0.route() },
            rule: maybe { "rules/\($0.atom(length: 5)).rules:\($0.int(1...9999))" },
            sender: maybe { $0.bool() ? .null : .mailbox($0.address()) })
        recipient.lastError = maybe { $0.text() }
        return recipient
    }

    mutating func envelope() -> Envelope {
        var generator = self
        let id = QueueID.make(microsecondsSince1970: UInt64(int(0...2_000_000_000)) * 1_000_000, using: &generator)
        self = generator
        var envelope = Envelope(
            queueID: id, sender: bool() ? .null : .mailbox(address()),
            recipients: (0..<int(1...6)).map { _ in recipient() },
            parameters: MailParameters(
                declaredSize: maybe { $0.int(0...100_000_000) }, body: maybe { $0.pick([.sevenBit, .eightBitMIME]) },
                smtpUTF8: bool(), returnContent: maybe { $0.pick([.full, .headers]) },
                envelopeID: maybe { $0.text() }, authorizedSender: maybe { $0.bool() ? "" : $0.text() }),
            arrival: Date(timeIntervalSince1970: Double(int(0...2_000_000_000)) + Double(int(0...999)) / 1000),
            size: int(0...100_000_000), has8BitContent: bool(),
            client: ClientFacts(
                address: pick(["192.0.2.7", "2001:db8::7", "unknown"]), port: maybe { $0.int(1...65535) }, helo: text(),
                protocolName: pick(["SMTP", "ESMTP", "ESMTPS", "ESMTPSA", "UTF8SMTPSA"]), tlsVersion: maybe { _ in "TLSv1.3" },
                authenticatedUser: maybe { $0.text() }),
            receivedBy: "mx.test")
        envelope.attempts = int(0...50)
        envelope.nextAttempt = maybe { Date(timeIntervalSince1970: Double($0.int(0...2_000_000_000))) }
        envelope.delayWarned = bool()
        return envelope
    }
}
