/// Writes ENVELOPE and BODYSTRUCTURE (RFC 3501 7.4.2) from a parsed `MIMEPart`, and the string forms they
/// are made of.
public enum IMAPStructureEncoder {
    /// A string as IMAP sends it: quoted when it can be, a literal when it holds CR, LF, NUL or 8-bit text.
    public static func string(_ text: String) -> String {
        let bytes = text.utf8
        if bytes.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 || $0 > 127 }) || bytes.count > 1000 {
            return "{\(bytes.count)}\r\n" + text
        }
        var quoted = "\""
        for character in text {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    public static func nstring(_ text: String?) -> String {
        text.map(string) ?? "NIL"
    }

    // MARK: ENVELOPE

    /// (date subject from sender reply-to to cc bcc in-reply-to message-id); sender and reply-to default to
    /// from.
    public static func envelope(_ part: MIMEPart) -> String {
        let from = addresses(part.field("From"))
        let sender = addresses(part.field("Sender")) ?? from
        let replyTo = addresses(part.field("Reply-To")) ?? from
        let items = [
            nstring(part.field("Date")), nstring(part.field("Subject")), from ?? "NIL", sender ?? "NIL",
            replyTo ?? "NIL", addresses(part.field("To")) ?? "NIL", addresses(part.field("Cc")) ?? "NIL",
            addresses(part.field("Bcc")) ?? "NIL", nstring(part.field("In-Reply-To")),
            nstring(part.field("Message-ID")),
        ]
        return "(" + items.joined(separator: " ") + ")"
    }

    /// An address list as `((name adl mailbox host) ...)`, groups as RFC 3501 writes them; nil when the
    /// field is absent or holds no address.
    static func addresses(_ value: String?) -> String? {
        guard let value else { return nil }
        let parsed = AddressListParser.parse(value)
        guard !parsed.isEmpty else { return nil }
        return "("
            + parsed.map { address in
                "("
                    + [nstring(address.name), nstring(address.route), nstring(address.mailbox), nstring(address.host)]
                    .joined(
                        separator: " ")
                    + ")"
            }.joined() + ")"
    }

    // MARK: BODYSTRUCTURE

    /// BODYSTRUCTURE with the extension data (`extended`), or BODY without it.
    public static func bodyStructure(_ part: MIMEPart, extended: Bool) -> String {
        if part.isMultipart && !part.children.isEmpty {
            var items = part.children.map { bodyStructure($0, extended: extended) }.joined()
            items += " " + string(part.contentType.subtype.uppercased())
            if extended {
                items +=
                    " " + parameters(part.contentType.parameters) + " " + disposition(part) + " "
                    + nstring(part.field("Content-Language")) + " " + nstring(part.field("Content-Location"))
            }
            return "(" + items + ")"
        }
        var items = [
            string(part.contentType.type.uppercased()), string(part.contentType.subtype.uppercased()),
            parameters(part.contentType.parameters), nstring(part.field("Content-ID")),
            nstring(part.field("Content-Description")),
            string((part.field("Content-Transfer-Encoding") ?? "7BIT").trimmingCharacters(in: " \t").uppercased()),
            "\(part.body.count)",
        ]
        if part.isMessage, let inner = part.children.first {
            items += [envelope(inner), bodyStructure(inner, extended: extended), "\(part.bodyLines)"]
        } else if part.contentType.type == "text" {
            items.append("\(part.bodyLines)")
        }
        if extended {
            items += [
                nstring(part.field("Content-MD5")), disposition(part), nstring(part.field("Content-Language")),
                nstring(part.field("Content-Location")),
            ]
        }
        return "(" + items.joined(separator: " ") + ")"
    }

    static func parameters(_ parameters: [(String, String)]) -> String {
        guard !parameters.isEmpty else { return "NIL" }
        return "(" + parameters.map { string($0.0.uppercased()) + " " + string($0.1) }.joined(separator: " ") + ")"
    }

    /// Content-Disposition (RFC 2183) as `("ATTACHMENT" ("FILENAME" "x"))`.
    static func disposition(_ part: MIMEPart) -> String {
        guard let value = part.field("Content-Disposition") else { return "NIL" }
        var scanner = HeaderScanner(value)
        guard let kind = scanner.token() else { return "NIL" }
        var parameters: [(String, String)] = []
        while scanner.skip(";") {
            guard let name = scanner.token(), scanner.skip("="), let value = scanner.quotedString() ?? scanner.token()
            else { break }
            parameters.append((name.lowercased(), value))
        }
        return "(" + string(kind.uppercased()) + " " + self.parameters(parameters) + ")"
    }
}

/// RFC 5322 address lists, forgivingly: `Name <a@b>`, `"Quoted, Name" <a@b>`, `a@b`, `a@b (Comment)`,
/// and groups `Team: a@b, c@d;`. A group is returned as its start marker (mailbox = the group name, no host)
/// and end marker (all nil), which is how IMAP writes groups.
enum AddressListParser {
    struct Address: Equatable {
        var name: String?
        /// An obsolete source route (`<@relay.example:user@host>`, RFC 5322 4.4): IMAP's `adl`.
        var route: String?
        var mailbox: String?
        var host: String?
    }

    static func parse(_ value: String) -> [Address] {
        var result: [Address] = []
        for item in split(value, on: ",") {
            var text = item.trimmingCharacters(in: " \t")
            if let colon = topLevelIndex(of: ":", in: text) {
                let group = String(text[..<colon]).trimmingCharacters(in: " \t\"")
                result.append(Address(name: nil, mailbox: group, host: nil))
                text = String(text[text.index(after: colon)...]).trimmingCharacters(in: " \t")
                let closes = text.hasSuffix(";")
                if closes { text = String(text.dropLast()) }
                if let address = single(text) { result.append(address) }
                if closes { result.append(Address()) }
                continue
            }
            let closes = text.hasSuffix(";")
            if closes { text = String(text.dropLast()) }
            if let address = single(text) { result.append(address) }
            if closes { result.append(Address()) }
        }
        return result
    }

    private static func single(_ text: String) -> Address? {
        let text = text.trimmingCharacters(in: " \t")
        guard !text.isEmpty else { return nil }
        var name: String?
        var spec = text
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            spec = String(text[text.index(after: open)..<close])
            let display = String(text[..<open]).trimmingCharacters(in: " \t")
            if !display.isEmpty { name = unquote(display) }
        } else if let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"), open < close {
            // `a@b (Name)`: the comment is the name, as older clients write it.
            let comment = String(text[text.index(after: open)..<close]).trimmingCharacters(in: " \t")
            if !comment.isEmpty { name = comment }
        }
        // Comments and folding white space may sit anywhere in an addr-spec (RFC 5322 3.4.1, CFWS):
        // `<user (comment)@ (comment) domain.org>` is user@domain.org. A comment alone is no address.
        spec = withoutComments(spec).filter { $0 != " " && $0 != "\t" }
        guard !spec.isEmpty else { return nil }
        var route: String?
        if spec.hasPrefix("@"), let colon = spec.firstIndex(of: ":") {
            route = String(spec[..<colon])
            spec = String(spec[spec.index(after: colon)...])
        }
        guard let at = spec.lastIndex(of: "@") else {
            return Address(name: name, route: route, mailbox: spec, host: nil)
        }
        return Address(
            name: name, route: route, mailbox: String(spec[..<at]), host: String(spec[spec.index(after: at)...]))
    }

    /// The text with its comments (parenthesised, nested, outside quotes) taken out.
    static func withoutComments(_ text: String) -> String {
        var result = ""
        var depth = 0
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
                if depth == 0 { result.append(character) }
                continue
            }
            if character == "\\" {
                escaped = true
                if depth == 0 { result.append(character) }
            } else if character == "\"" && depth == 0 {
                quoted.toggle()
                result.append(character)
            } else if !quoted && character == "(" {
                depth += 1
            } else if !quoted && character == ")" && depth > 0 {
                depth -= 1
            } else if depth == 0 {
                result.append(character)
            }
        }
        return result
    }

    private static func unquote(_ text: String) -> String {
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { return text }
        var result = ""
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped || character != "\\" {
                result.append(character)
                escaped = false
            } else {
                escaped = true
            }
        }
        return result
    }

    /// Splits on `separator` outside quotes, angle brackets and comments.
    private static func split(_ text: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var angle = 0
        var comment = 0
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" && comment == 0 {
                quoted.toggle()
            } else if !quoted {
                if character == "(" { comment += 1 }
                if character == ")" && comment > 0 { comment -= 1 }
                if comment == 0 && character == "<" { angle += 1 }
                if comment == 0 && character == ">" && angle > 0 { angle -= 1 }
                if character == separator && angle == 0 && comment == 0 {
                    parts.append(current)
                    current = ""
                    continue
                }
            }
            current.append(character)
        }
        parts.append(current)
        return parts
    }

    private static func topLevelIndex(of target: Character, in text: String) -> String.Index? {
        var quoted = false
        var angle = 0
        for index in text.indices {
            let character = text[index]
            if character == "\"" { quoted.toggle() }
            if !quoted && character == "<" { angle += 1 }
            if !quoted && character == ">" { angle -= 1 }
            if !quoted && angle == 0 && character == target { return index }
        }
        return nil
    }
}
