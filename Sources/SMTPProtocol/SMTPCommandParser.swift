import MailModel

/// Parses one command line (without its CRLF) into an `SMTPCommand`.
///
/// Verbs are case-insensitive (RFC 5321 2.4). Paths must be in angle brackets; one space after the colon is
/// tolerated because common clients send it. Whether an ESMTP parameter is allowed in this session (EHLO
/// versus HELO) and valid is the session's business, not the grammar's.
public enum SMTPCommandParser {
    /// `addressLimits` bound MAIL's path, and with room for SRS (`forRecipients`) RCPT's; the default is
    /// what intake takes by default.
    public static func parse(_ line: [UInt8], addressLimits: AddressLimits = .intake) throws(SMTPCommandError)
        -> SMTPCommand
    {
        guard !line.contains(where: { $0 == 0 || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }),
            let text = String(validating: line, as: UTF8.self)
        else { throw .badCharacters }

        let verbEnd = text.firstIndex(of: " ") ?? text.endIndex
        let verb = text[..<verbEnd].uppercased()
        let argument = verbEnd == text.endIndex ? "" : String(text[text.index(after: verbEnd)...])

        switch verb {
        case "EHLO": return .ehlo(try hostname(argument, verb: verb))
        case "HELO": return .helo(try hostname(argument, verb: verb))
        case "MAIL": return try mail(argument, limits: addressLimits)
        case "RCPT": return try rcpt(argument, limits: addressLimits.forRecipients)
        case "DATA": return try noArgument(.data, argument, verb: verb)
        case "RSET": return try noArgument(.rset, argument, verb: verb)
        case "QUIT": return try noArgument(.quit, argument, verb: verb)
        case "STARTTLS": return try noArgument(.startTLS, argument, verb: verb)
        case "NOOP": return .noop
        case "HELP": return .help
        case "VRFY":
            guard !argument.trimmingSpaces.isEmpty else { throw .syntax("Syntax: VRFY address") }
            return .vrfy(argument)
        case "AUTH": return try auth(argument)
        case "EXPN", "BDAT", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML", "VERB", "XCLIENT", "XFORWARD":
            throw .notImplemented(verb)
        case "GET", "POST", "PUT", "HEAD", "CONNECT", "OPTIONS", "DELETE", "PATCH":
            throw .nonSMTP(verb)
        default:
            throw .unknownCommand
        }
    }

    private static func noArgument(_ command: SMTPCommand, _ argument: String, verb: String)
        throws(SMTPCommandError) -> SMTPCommand
    {
        guard argument.trimmingSpaces.isEmpty else { throw .syntax("Syntax: \(verb) takes no argument") }
        return command
    }

    /// EHLO/HELO argument: one word of printable ASCII (RFC 5321 4.1.1.1 wants a domain or address literal,
    /// but rejecting the many clients that send a bare host name would help nobody).
    private static func hostname(_ argument: String, verb: String) throws(SMTPCommandError) -> String {
        let name = argument.trimmingSpaces
        guard !name.isEmpty, !name.contains(" "), name.utf8.count <= 255,
            name.utf8.allSatisfy({ $0 > 32 && $0 < 127 })
        else { throw .syntax("Syntax: \(verb) hostname") }
        return name
    }

    /// `MAIL FROM:<reverse-path> [SP Mail-parameters]`
    private static func mail(_ argument: String, limits: AddressLimits) throws(SMTPCommandError) -> SMTPCommand {
        guard let rest = argument.droppingPrefix(caseInsensitive: "FROM:") else {
            throw .syntax("Syntax: MAIL FROM:<address>")
        }
        let (pathText, parameters) = try splitPath(rest, isSender: true)
        if pathText == "<>" { return .mail(.null, parameters) }
        do {
            return .mail(.mailbox(try EmailAddress(parsingPath: pathText, limits: limits)), parameters)
        } catch {
            throw .badAddress(error, isSender: true)
        }
    }

    /// `RCPT TO:( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]`
    private static func rcpt(_ argument: String, limits: AddressLimits) throws(SMTPCommandError) -> SMTPCommand {
        guard let rest = argument.droppingPrefix(caseInsensitive: "TO:") else {
            throw .syntax("Syntax: RCPT TO:<address>")
        }
        let (pathText, parameters) = try splitPath(rest, isSender: false)
        if pathText.lowercased() == "<postmaster>" { return .rcpt(.postmaster, parameters) }
        do {
            return .rcpt(.mailbox(try EmailAddress(parsingPath: pathText, limits: limits)), parameters)
        } catch {
            throw .badAddress(error, isSender: false)
        }
    }

    /// Splits `<path> KEY=VALUE KEY` at the closing bracket that ends the path (a `>` inside a quoted local
    /// part does not count), and parses the parameters.
    private static func splitPath(_ text: String, isSender: Bool) throws(SMTPCommandError)
        -> (String, [ESMTPParameter])
    {
        let trimmed = text.hasPrefix(" ") ? String(text.dropFirst()) : text
        guard trimmed.hasPrefix("<") else { throw .badAddress(.missingAngleBrackets, isSender: isSender) }
        var inQuotes = false
        var escaped = false
        var end: String.Index?
        for index in trimmed.indices {
            let character = trimmed[index]
            if escaped {
                escaped = false
            } else if character == "\\" && inQuotes {
                escaped = true
            } else if character == "\"" {
                inQuotes.toggle()
            } else if character == ">" && !inQuotes {
                end = index
                break
            }
        }
        guard let end else { throw .badAddress(.missingAngleBrackets, isSender: isSender) }
        let path = String(trimmed[...end])
        let rest = trimmed[trimmed.index(after: end)...]
        guard rest.isEmpty || rest.hasPrefix(" ") else {
            throw .syntax("Syntax: a space must follow the address")
        }
        return (path, try parameters(rest))
    }

    /// `esmtp-param *(SP esmtp-param)`; `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`,
    /// `esmtp-value = 1*(%d33-60 / %d62-126)` plus UTF-8 (RFC 6531 3.3).
    private static func parameters(_ text: Substring) throws(SMTPCommandError) -> [ESMTPParameter] {
        var result: [ESMTPParameter] = []
        for word in text.split(separator: " ") {
            let keyword: Substring
            let value: String?
            if let equals = word.firstIndex(of: "=") {
                keyword = word[..<equals]
                let rawValue = word[word.index(after: equals)...]
                guard !rawValue.isEmpty, rawValue.utf8.allSatisfy({ $0 > 32 && $0 != 61 && $0 != 127 }) else {
                    throw .syntax("Syntax: bad value for parameter \(keyword.uppercased())")
                }
                value = String(rawValue)
            } else {
                keyword = word
                value = nil
            }
            guard let first = keyword.utf8.first, isAlphanumeric(first),
                keyword.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
            else { throw .syntax("Syntax: bad parameter \(keyword)") }
            let name = keyword.uppercased()
            guard !result.contains(where: { $0.keyword == name }) else {
                throw .syntax("Syntax: parameter \(name) given twice")
            }
            result.append(ESMTPParameter(name, value))
        }
        return result
    }

    /// `AUTH mechanism [initial-response]` (RFC 4954 4).
    private static func auth(_ argument: String) throws(SMTPCommandError) -> SMTPCommand {
        let words = argument.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(words.count) else { throw .syntax("Syntax: AUTH mechanism [initial-response]") }
        return .auth(mechanism: words[0].uppercased(), initialResponse: words.count == 2 ? String(words[1]) : nil)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: false
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }

    func droppingPrefix(caseInsensitive prefix: String) -> String? {
        guard count >= prefix.count, self.prefix(prefix.count).uppercased() == prefix.uppercased() else { return nil }
        return String(dropFirst(prefix.count))
    }
}
