/// An SMTP reply (RFC 5321 4.2): a three-digit code, an optional enhanced status code (RFC 3463) and one
/// or more lines of text. Shared by the server, which sends them, and by delivery, which records the
/// replies of the next hop in the envelope.
public struct SMTPReply: Sendable, Hashable, Codable, CustomStringConvertible {
    public let code: Int
    public let enhancedCode: EnhancedStatusCode?
    public let lines: [String]

    public init(_ code: Int, _ enhancedCode: EnhancedStatusCode?, _ lines: [String]) {
        precondition((200...599).contains(code), "reply code out of range")
        precondition(!lines.isEmpty, "a reply has at least one line")
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.map(Self.sanitized)
    }

    public init(_ code: Int, _ enhancedCode: EnhancedStatusCode?, _ text: String) {
        self.init(code, enhancedCode, [text])
    }

    public var isPositive: Bool { code < 400 }
    public var isTransientFailure: Bool { (400...499).contains(code) }
    public var isPermanentFailure: Bool { code >= 500 }

    /// The wire form: `250-first` continuation lines, `250 last`, each ending in CRLF, with the enhanced
    /// code repeated on every line as RFC 2034 asks.
    public var encoded: String {
        var result = ""
        for (index, line) in lines.enumerated() {
            result += String(code)
            result += index == lines.count - 1 ? " " : "-"
            if let enhancedCode { result += enhancedCode.description + " " }
            result += line
            result += "\r\n"
        }
        return result
    }

    /// One line for logs: `550 5.1.1 text; more text`.
    public var description: String {
        let prefix = enhancedCode.map { "\(code) \($0)" } ?? String(code)
        return prefix + " " + lines.joined(separator: "; ")
    }

    /// Reply text must never carry CR, LF, ESC or other controls (nor bidirectional overrides): a word a
    /// client chose, echoed in our reply, could otherwise inject a line of its own, and a next hop's reply,
    /// kept in an envelope and shown by `queue show` or in a bounce, could rewrite a terminal or a reader's
    /// view. Each line is also cut to `maxLineLength` characters.
    private static func sanitized(_ line: String) -> String {
        SafeText.sanitized(line, limit: maxLineLength)
    }

    /// RFC 5321 4.5.3.1.5 allows 512 octets a reply line, code and CRLF included; some servers send more.
    public static let maxLineLength = 1000

    /// The reply in one line for an envelope, a report or a bounce: `550 5.1.1 text more text`, at most
    /// `limit` characters, lines joined by a space.
    public func summary(limit: Int) -> String {
        let prefix = enhancedCode.map { "\(code) \($0) " } ?? "\(code) "
        return SafeText.sanitized(prefix + lines.joined(separator: " "), limit: limit)
    }
}

/// `class.subject.detail` (RFC 3463), e.g. `5.1.1`.
public struct EnhancedStatusCode: Sendable, Hashable, Codable, CustomStringConvertible {
    public let statusClass: Int
    public let subject: Int
    public let detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2]),
            [2, 4, 5].contains(c), (0...999).contains(s), (0...999).contains(d)
        else { return nil }
        self.init(c, s, d)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
