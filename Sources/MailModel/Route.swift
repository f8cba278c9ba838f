/// Where a recipient's copy goes next: the routing rules' answer, kept in the envelope for delivery.
///
/// Its text form is what rules files and the envelope write: `mx`, `relay:NAME`, `[HOST]` or `[HOST]:PORT`,
/// `mailbox:NAME`, `discard`.
public enum Route: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The recipient domain's MX hosts (RFC 5321 5.1).
    case mx
    /// A named upstream from relaygate.yaml (a smarthost), with its own hosts, TLS and credentials.
    case relay(String)
    /// A literal next hop, without an MX lookup: a host name or an IP address, and a port.
    case host(String, port: Int)
    /// A local Maildir, read over POP3 and IMAP.
    case mailbox(String)
    /// Accepted and dropped, with a log line.
    case discard

    public var description: String {
        switch self {
        case .mx: "mx"
        case .relay(let name): "relay:\(name)"
        case .host(let host, let port): port == 25 ? "[\(host)]" : "[\(host)]:\(port)"
        case .mailbox(let name): "mailbox:\(name)"
        case .discard: "discard"
        }
    }

    /// Parses the text form; nil when it is none of them.
    public init?(_ text: String) {
        if text == "mx" {
            self = .mx
        } else if text == "discard" {
            self = .discard
        } else if text.hasPrefix("relay:"), let name = Self.name(text.dropFirst(6)) {
            self = .relay(name)
        } else if text.hasPrefix("mailbox:"), let name = Self.name(text.dropFirst(8)) {
            self = .mailbox(name)
        } else if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard IPAddress(host) != nil || Domain.isHostname(host) else { return nil }
            var port = 25
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = Int(rest.dropFirst()), (1...65535).contains(parsed),
                    rest.dropFirst().allSatisfy(\.isASCII)
                else { return nil }
                port = parsed
            }
            self = .host(host, port: port)
        } else {
            return nil
        }
    }

    /// Whether a mailbox name is one `mailbox:NAME` accepts (and so a safe directory name).
    public static func isValidMailboxName(_ name: String) -> Bool { Self.name(name[...]) != nil }

    /// Upstream and mailbox names: letters, digits, `.`, `_` and `-`, not starting with `.`; a mailbox name is
    /// also a directory name, so it can never be `..` or reach outside the mailbox root.
    private static func name(_ text: Substring) -> String? {
        guard !text.isEmpty, text.count <= 64, !text.hasPrefix("."),
            text.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            })
        else { return nil }
        return String(text)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let route = Route(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad route \(text)"))
        }
        self = route
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
