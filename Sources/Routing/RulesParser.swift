import MailModel

/// Reads one rules file. The format (docs/rules.md has the user's version):
///
///     # a comment: from a # at the start of a line or after a space, to the end of the line
///     info@shop.example       alice@gmail.com, bob@outlook.example    # forward to several targets
///     sales@shop.example      mailbox:sales                           # a local Maildir
///     @shop.example           owner@gmail.com                         # catch-all for the domain
///     /^(.+)\.(.+)@old\.example$/   $2.$1@new.example                 # regular expression, $1..$9 (local part only)
///     abuse@shop.example      reject 550 5.7.1 Please use the web form
///     noise@shop.example      discard
///     route gmail.com         relay:provider                          # how mail for a domain leaves
///     route .example.net      [10.0.0.5]:2525                         # any subdomain of example.net
///     route *                 mx                                      # everything else (the default)
///
/// One rule a line; a rule is a pattern and what to do, separated by white space. A regular expression
/// is written between slashes and may hold spaces and `#`; it is matched (searched, as in Perl or Postfix)
/// against the lower-cased `local@domain`.
public enum RulesParser {
    public enum Line: Sendable {
        case address(AddressRule)
        case route(RouteRule)
    }

    /// Parses `text` as the file `file`. Every bad line is reported, not just the first.
    public static func parse(_ text: String, file: String) -> (rules: [Line], errors: [RulesError]) {
        var rules: [Line] = []
        var errors: [RulesError] = []
        // Split on the byte: as Characters, "\r\n" is one grapheme and would never equal "\n".
        for (index, rawLine) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            let location = SourceLocation(file: file, line: index + 1)
            var line = Substring(rawLine)
            if line.utf8.last == UInt8(ascii: "\r") { line = Substring(line.utf8.dropLast()) }
            do throws(RulesError) {
                if let rule = try parseLine(line, at: location) { rules.append(rule) }
            } catch {
                errors.append(error)
            }
        }
        return (rules, errors)
    }

    static func parseLine(_ line: Substring, at location: SourceLocation) throws(RulesError) -> Line? {
        let (pattern, rest) = try splitPattern(line, at: location)
        guard let pattern else { return nil }
        if pattern == "route" {
            return .route(try parseRoute(rest, at: location))
        }
        guard !rest.isEmpty else {
            throw RulesError(location, "\(pattern) needs a target: an address, mailbox:NAME, reject or discard")
        }
        let parsedPattern = try parsePattern(pattern, at: location)
        var isRegex = false
        if case .regex = parsedPattern { isRegex = true }
        let action = try parseAction(rest, regex: isRegex, at: location)
        return .address(AddressRule(pattern: parsedPattern, action: action, location: location))
    }

    /// The first word (a whole `/regex/` when it starts with a slash) and the rest, comment removed.
    /// Works on UTF-8 bytes: every delimiter here is ASCII, and a large table must load fast.
    private static func splitPattern(_ line: Substring, at location: SourceLocation) throws(RulesError)
        -> (String?, String)
    {
        let bytes = line.utf8
        var start = bytes.startIndex
        while start < bytes.endIndex, isBlank(bytes[start]) { start = bytes.index(after: start) }
        guard start < bytes.endIndex, bytes[start] != UInt8(ascii: "#") else { return (nil, "") }
        var end = start
        if bytes[start] == UInt8(ascii: "/") {
            end = bytes.index(after: end)
            var escaped = false
            while end < bytes.endIndex {
                let byte = bytes[end]
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "/") {
                    break
                }
                end = bytes.index(after: end)
            }
            guard end < bytes.endIndex else {
                throw RulesError(location, "regular expression has no closing /")
            }
            end = bytes.index(after: end)
            if end < bytes.endIndex, !isBlank(bytes[end]) {
                throw RulesError(location, "expected a space after the closing / of the regular expression")
            }
        } else {
            while end < bytes.endIndex, !isBlank(bytes[end]) { end = bytes.index(after: end) }
        }
        let pattern = String(Substring(bytes[start..<end]))
        return (pattern, stripComment(Substring(bytes[end...])))
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// Removes a `#` comment (at the start or after white space) and surrounding white space.
    private static func stripComment(_ text: Substring) -> String {
        let bytes = text.utf8
        var previous = UInt8(ascii: " ")
        var end = bytes.endIndex
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "#") && isBlank(previous) {
                end = index
                break
            }
            previous = bytes[index]
            index = bytes.index(after: index)
        }
        return Substring(bytes[bytes.startIndex..<end]).trimmingWhitespace()
    }

    private static func parsePattern(_ pattern: String, at location: SourceLocation) throws(RulesError)
        -> AddressRule.Pattern
    {
        if pattern.hasPrefix("/") {
            let source = String(pattern.dropFirst().dropLast())
            guard !source.isEmpty else { throw RulesError(location, "empty regular expression") }
            do {
                _ = try Regex(source)
            } catch {
                throw RulesError(location, "bad regular expression /\(source)/: \(error)")
            }
            return .regex(source: source, domain: literalDomain(ofRegex: source))
        }
        if pattern.hasPrefix("@") {
            guard let domain = try? Domain(validating: String(pattern.dropFirst())) else {
                throw RulesError(location, "\(pattern) is not @domain (a catch-all such as @shop.example)")
            }
            return .catchAll(domain)
        }
        do {
            let address = try EmailAddress(parsing: pattern)
            guard !address.domain.isAddressLiteral else {
                throw RulesError(location, "\(pattern): rules are for domain names, not address literals")
            }
            return .exact(address)
        } catch let error as RulesError {
            throw error
        } catch {
            throw RulesError(
                location,
                "\(pattern) is not an address (local@domain), a catch-all (@domain), a /regular expression/ or route: \(error)"
            )
        }
    }

    /// The domain a regular expression ends with, such as `old.example` in `/^(.+)@old\.example$/`: it
    /// makes that domain one of ours. Nil when the end is not a literal `@domain$`.
    static func literalDomain(ofRegex source: String) -> Domain? {
        guard source.hasSuffix("$"), let at = source.lastIndex(of: "@") else { return nil }
        var literal = ""
        var characters = source[source.index(after: at)..<source.index(before: source.endIndex)].makeIterator()
        while let character = characters.next() {
            if character == "\\" {
                guard characters.next() == "." else { return nil }
                literal.append(".")
            } else if character.isLetter || character.isNumber || character == "-" {
                literal.append(character)
            } else {
                return nil
            }
        }
        return try? Domain(validating: literal)
    }

    private static func parseAction(_ text: String, regex: Bool, at location: SourceLocation) throws(RulesError)
        -> AddressRule.Action
    {
        // Only a text that starts with a keyword needs splitting into words; most are address lists.
        if text.hasPrefix("discard") || text.hasPrefix("reject") {
            let words = text.utf8.split(whereSeparator: isBlank).map { Substring($0) }
            switch words.first {
            case "discard":
                guard words.count == 1 else { throw RulesError(location, "discard takes nothing after it") }
                return .discard
            case "reject":
                return .reject(try parseReject(words.dropFirst(), at: location))
            default:
                break
            }
        }
        var targets: [AddressRule.Target] = []
        for part in text.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let target = Substring(part).trimmingWhitespace()
            guard !target.isEmpty else { throw RulesError(location, "empty target in the list (a stray comma?)") }
            guard !target.utf8.contains(where: isBlank) else {
                throw RulesError(location, "\"\(target)\": targets are separated by commas")
            }
            targets.append(try parseTarget(target, regex: regex, at: location))
        }
        return .forward(targets)
    }

    private static func parseTarget(_ text: String, regex: Bool, at location: SourceLocation) throws(RulesError)
        -> AddressRule.Target
    {
        if text.hasPrefix("mailbox:") {
            guard case .mailbox(let name)? = Route(text) else {
                throw RulesError(location, "\(text): a mailbox name is letters, digits, '.', '_' and '-'")
            }
            return .mailbox(name)
        }
        if text == "discard" || text == "reject" {
            throw RulesError(location, "\(text) must stand alone, not in a list of targets")
        }
        if text.utf8.contains(UInt8(ascii: "$")) {
            guard regex else { throw RulesError(location, "\(text): $1..$9 only work in regular-expression rules") }
            // The sender writes the address the groups come from. In the local part a group only picks a
            // mailbox at a domain we wrote; in the domain it would let the sender pick where we relay.
            guard let domain = templateDomain(text) else {
                throw RulesError(
                    location,
                    "\(text): $1..$9 may fill the local part of a target, never its domain (the sender would choose "
                        + "where we relay); write the domain out, as in $1@example.org")
            }
            guard (try? Domain(validating: domain)) != nil else {
                throw RulesError(location, "\(text): \(domain) is not a domain name")
            }
            guard let sample = substitute(text, groups: Array(repeating: "x", count: 10)),
                (try? EmailAddress(parsing: sample)) != nil
            else { throw RulesError(location, "\(text) is not an address template such as $1@example.org") }
            return .template(text)
        }
        guard let address = try? EmailAddress(parsing: text) else {
            throw RulesError(location, "\(text) is not an address, mailbox:NAME, reject or discard")
        }
        return .address(address)
    }

    /// The literal domain of an address template (after its last `@`), nil when it has none or a `$` fills
    /// any of it.
    static func templateDomain(_ template: String) -> String? {
        guard let at = template.lastIndex(of: "@") else { return nil }
        let domain = template[template.index(after: at)...]
        guard !domain.isEmpty, !domain.contains("$") else { return nil }
        return String(domain)
    }

    /// `$1`…`$9` replaced by `groups[1]`…; nil when the template names a group that is not there.
    static func substitute(_ template: String, groups: [String]) -> String? {
        var result = ""
        var iterator = template.makeIterator()
        while let character = iterator.next() {
            guard character == "$" else {
                result.append(character)
                continue
            }
            guard let digit = iterator.next(), let number = digit.wholeNumberValue, number >= 1, number < groups.count
            else { return nil }
            result += groups[number]
        }
        return result
    }

    private static func parseReject(_ words: ArraySlice<Substring>, at location: SourceLocation) throws(RulesError)
        -> SMTPReply
    {
        var words = words
        var code = 550
        var enhanced = EnhancedStatusCode(5, 7, 1)
        if let first = words.first, first.allSatisfy(\.isNumber) {
            guard first.count == 3, let value = Int(first), (400...599).contains(value), value / 100 != 3 else {
                throw RulesError(location, "reject \(first): the code must be 4xx or 5xx, such as 550")
            }
            code = value
            words = words.dropFirst()
            enhanced = EnhancedStatusCode(code / 100, 7, 1)
            if let second = words.first, second.first?.isNumber == true {
                guard let parsed = EnhancedStatusCode(String(second)), parsed.statusClass == code / 100 else {
                    throw RulesError(location, "reject \(code) \(second): the enhanced code must be \(code / 100).X.Y")
                }
                enhanced = parsed
                words = words.dropFirst()
            }
        }
        let text = words.isEmpty ? "Recipient rejected" : words.joined(separator: " ")
        guard text.utf8.allSatisfy({ $0 >= 32 && $0 < 127 }) else {
            throw RulesError(location, "reject text must be printable ASCII (it goes into an SMTP reply)")
        }
        return SMTPReply(code, enhanced, text)
    }

    private static func parseRoute(_ text: String, at location: SourceLocation) throws(RulesError) -> RouteRule {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard words.count == 2 else {
            throw RulesError(location, "expected: route DOMAIN|.DOMAIN|* mx|relay:NAME|[HOST]:PORT")
        }
        let match: RouteRule.Match
        if words[0] == "*" {
            match = .any
        } else if words[0].hasPrefix("."), let domain = try? Domain(validating: String(words[0].dropFirst())) {
            match = .subdomains(domain.key)
        } else if let domain = try? Domain(validating: words[0]) {
            match = .domain(domain.key)
        } else {
            throw RulesError(location, "route \(words[0]): expected a domain, .domain (its subdomains) or *")
        }
        guard let route = Route(words[1]) else {
            throw RulesError(location, "route \(words[0]) \(words[1]): expected mx, relay:NAME or [HOST]:PORT")
        }
        switch route {
        case .mx, .relay, .host: break
        case .mailbox, .discard:
            throw RulesError(location, "route \(words[0]) \(words[1]): routes are mx, relay:NAME or [HOST]:PORT")
        }
        return RouteRule(match: match, route: route, location: location)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        var bytes = Substring(self).utf8[...]
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            bytes = bytes.dropFirst()
        }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes = bytes.dropLast() }
        return String(Substring(bytes))
    }
}
