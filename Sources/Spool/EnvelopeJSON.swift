import MailModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An envelope's JSON, written by hand: octet for octet what `JSONEncoder` gives with sorted keys, slashes
/// unescaped and dates as seconds since 1970 (a test holds the two to that), at a fraction of the cost.
/// Every message is encoded once at intake and again at each recorded outcome, and with `JSONEncoder`
/// that was the largest share of the server's own CPU time in the end-to-end benchmark. Reading stays with
/// `JSONDecoder`, which checks everything.
///
/// Keys are written in sorted order by hand; optional fields that are nil are left out, as the synthesized
/// `Encodable` conformances do.
struct EnvelopeJSON {
    private(set) var bytes: [UInt8] = []
    /// Whether the object being written already has a member (so the next needs a comma).
    private var hasMember: [Bool] = []

    static func encode(_ envelope: Envelope) -> [UInt8] {
        var json = EnvelopeJSON()
        json.bytes.reserveCapacity(512 + 256 * envelope.recipients.count)
        json.write(envelope)
        return json.bytes
    }

    private mutating func write(_ envelope: Envelope) {
        object {
            $0.member("8bit", envelope.has8BitContent)
            $0.member("arrival", envelope.arrival)
            $0.member("attempts", envelope.attempts)
            $0.key("client")
            $0.write(envelope.client)
            $0.member("delay_warned", envelope.delayWarned)
            if let next = envelope.nextAttempt { $0.member("next_attempt", next) }
            $0.key("parameters")
            $0.write(envelope.parameters)
            $0.member("queue_id", envelope.queueID.rawValue)
            $0.member("received_by", envelope.receivedBy)
            $0.key("recipients")
            $0.bytes.append(UInt8(ascii: "["))
            for (index, recipient) in envelope.recipients.enumerated() {
                if index > 0 { $0.bytes.append(UInt8(ascii: ",")) }
                $0.write(recipient)
            }
            $0.bytes.append(UInt8(ascii: "]"))
            $0.member("sender", envelope.sender.address?.description ?? "")
            $0.member("size", envelope.size)
        }
    }

    private mutating func write(_ client: ClientFacts) {
        object {
            $0.member("address", client.address)
            if let user = client.authenticatedUser { $0.member("auth_user", user) }
            $0.member("helo", client.helo)
            if let port = client.port { $0.member("port", port) }
            $0.member("protocol", client.protocolName)
            if let tls = client.tlsVersion { $0.member("tls", tls) }
        }
    }

    private mutating func write(_ parameters: MailParameters) {
        object {
            if let auth = parameters.authorizedSender { $0.member("auth", auth) }
            if let body = parameters.body { $0.member("body", body.rawValue) }
            if let envelopeID = parameters.envelopeID { $0.member("envid", envelopeID) }
            if let ret = parameters.returnContent { $0.member("ret", ret.rawValue) }
            if let size = parameters.declaredSize { $0.member("size", size) }
            $0.member("smtputf8", parameters.smtpUTF8)
        }
    }

    private mutating func write(_ recipient: Recipient) {
        object {
            $0.member("address", recipient.address.description)
            if let error = recipient.lastError { $0.member("last_error", error) }
            if let notify = recipient.notify { $0.member("notify", notify.description) }
            if let original = recipient.originalRecipient {
                $0.key("orcpt")
                $0.object {
                    $0.member("address", original.address)
                    $0.member("addressType", original.addressType)
                }
            }
            if let route = recipient.route { $0.member("route", route.description) }
            if let rule = recipient.rule { $0.member("rule", rule) }
            if let sender = recipient.sender { $0.member("sender", sender.address?.description ?? "") }
            $0.member("status", recipient.status.rawValue)
        }
    }

    // MARK: JSON

    private mutating func object(_ members: (inout EnvelopeJSON) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        hasMember.append(false)
        members(&self)
        hasMember.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    private mutating func key(_ name: StaticString) {
        if hasMember[hasMember.count - 1] { bytes.append(UInt8(ascii: ",")) }
        hasMember[hasMember.count - 1] = true
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    private mutating func member(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    private mutating func member(_ name: StaticString, _ value: Int) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    private mutating func member(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Seconds since 1970 as `JSONEncoder` writes a Double: its shortest round-tripping form, without a
    /// trailing ".0".
    private mutating func member(_ name: StaticString, _ date: Date) {
        key(name)
        var text = date.timeIntervalSince1970.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// A JSON string: `"` and `\` escaped, control characters as \b \f \n \r \t or \u00XX, everything else
    /// (non-ASCII included) as its UTF-8.
    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for octet in value.utf8 {
            switch octet {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(octet >> 4)], hex[Int(octet & 0xF)]])
            default: bytes.append(octet)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
