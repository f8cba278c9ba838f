import Foundation

/// An IMAP dialog written down as a fixture file, one edge case per file, run against the pure session with
/// a real Maildir behind it (ServerTests) and against the running server over implicit TLS (EndToEndTests).
/// The user is alice, password secret; the mailbox starts empty.
///
/// Format, one item per line:
///
///     # comment
///     C: TEXT      the client sends TEXT and CRLF
///     S: PREFIX    the server's next line starts with PREFIX
///     S= TEXT      the server's next line is exactly TEXT (`S=  x` for one that starts with a space)
///     S: closed    the server has closed the connection
///
/// In TEXT, `{{x*70000}}` stands for 70,000 `x`s; nothing else is special (`\Seen` is `\Seen`). Each C:
/// line goes out in a write of its own. A literal a server line announces is read as the lines it holds.
public struct IMAPDialog: Sendable {
    public enum Step: Sendable, Equatable {
        case send(String)
        case expectPrefix(String)
        case expectLine(String)
        case expectClosed
    }

    public let name: String
    public var steps: [Step] = []

    public init(name: String, text: String) throws {
        self.name = name
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.count == 2 || (line.count >= 3 && line.dropFirst(2).first == " ") else {
                throw TranscriptError(
                    name: name, line: number + 1, message: "expected `C: text`, `S: text` or `S= text`")
            }
            let body = Self.expand(String(line.dropFirst(3)))
            switch line.prefix(2) {
            case "C:": steps.append(.send(body))
            case "S:": steps.append(body == "closed" ? .expectClosed : .expectPrefix(body))
            case "S=": steps.append(.expectLine(body))
            default: throw TranscriptError(name: name, line: number + 1, message: "unknown step \(line.prefix(2))")
            }
        }
    }

    /// Every fixture in Tests/IMAPProtocolTests/Fixtures/dialogs, by name.
    public static func all() throws -> [IMAPDialog] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("IMAPProtocolTests/Fixtures/dialogs")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".imap") }
            .sorted().map { name in
                try IMAPDialog(
                    name: name,
                    text: String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
            }
    }

    /// Whether a server line satisfies an expectation.
    public static func matches(_ line: String, _ step: Step) -> Bool {
        switch step {
        case .expectPrefix(let prefix): line.hasPrefix(prefix)
        case .expectLine(let expected): line == expected
        case .send, .expectClosed: false
        }
    }

    static func expand(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{"), let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex)
        {
            result += rest[..<open.lowerBound]
            let inner = rest[open.upperBound..<close.lowerBound]
            if let star = inner.lastIndex(of: "*"), let count = Int(inner[inner.index(after: star)...]) {
                result += String(repeating: String(inner[..<star]), count: count)
            } else {
                result += "{{" + inner + "}}"
            }
            rest = rest[close.upperBound...]
        }
        result += rest
        return result
    }
}
