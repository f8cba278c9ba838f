import Foundation

/// An SMTP dialog written down as a fixture file, one edge case per file, run both against the pure session
/// (SMTPProtocolTests) and against the running server over loopback (EndToEndTests).
///
/// Format, one item per line:
///
///     # comment
///     @set KEY VALUE     a server setting for this dialog (the `smtp:` keys of relaygate.yaml)
///     @pure              only for the pure session (needs something a raw socket cannot do, such as TLS)
///     @implicit-tls      the session starts as if on port 465 with TLS up (implies @pure)
///     @same-read         the dialog depends on pipelined lines arriving in one read (not run byte by byte)
///     C: TEXT            the client sends TEXT and CRLF
///     R: TEXT            the client sends TEXT as is (no CRLF)
///     S: PREFIX          the next reply's first line starts with PREFIX (`250`, `250 2.1.5`, ...)
///     S: closed          the server has closed the connection
///     B: TEXT            the content of the message just queued is exactly TEXT (no CRLF added)
///
/// TEXT may hold `\r`, `\n`, `\t`, `\0`, `\\` and `\xHH`. Consecutive C:/R: lines go out in one write, as a
/// pipelining client would send them.
public struct Transcript: Sendable {
    public enum Step: Sendable, Equatable {
        case send([UInt8])
        case expectReply(String)
        case expectClosed
        case expectBody([UInt8])
    }

    public let name: String
    public var settings: [String: String] = [:]
    public var pureOnly = false
    public var implicitTLS = false
    public var needsSameRead = false
    public var steps: [Step] = []

    public init(name: String, text: String) throws {
        self.name = name
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@") {
                let words = line.dropFirst().split(separator: " ", maxSplits: 2).map(String.init)
                switch words.first {
                case "set" where words.count == 3: settings[words[1]] = words[2]
                case "pure": pureOnly = true
                case "same-read": needsSameRead = true
                case "implicit-tls":
                    implicitTLS = true
                    pureOnly = true
                default: throw TranscriptError(name: name, line: number + 1, message: "unknown directive \(line)")
                }
                continue
            }
            guard line.count >= 2, line.dropFirst().hasPrefix(":"), line.count == 2 || line.dropFirst().hasPrefix(": ")
            else { throw TranscriptError(name: name, line: number + 1, message: "expected `X: text`") }
            let body = String(line.dropFirst(3))
            switch line.first {
            case "C": append(Self.unescape(body) + Array("\r\n".utf8))
            case "R": append(Self.unescape(body))
            case "S": steps.append(body == "closed" ? .expectClosed : .expectReply(body))
            case "B": steps.append(.expectBody(Self.unescape(body)))
            default: throw TranscriptError(name: name, line: number + 1, message: "unknown line kind")
            }
        }
    }

    public static func load(_ url: URL) throws -> Transcript {
        try Transcript(name: url.lastPathComponent, text: String(contentsOf: url, encoding: .utf8))
    }

    /// Every fixture in `Tests/SMTPProtocolTests/Fixtures/transcripts`, by name.
    public static func all() throws -> [Transcript] {
        let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SMTPProtocolTests/Fixtures/transcripts")
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "smtp" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map(load)
    }

    private mutating func append(_ bytes: [UInt8]) {
        if case .send(let previous) = steps.last {
            steps[steps.count - 1] = .send(previous + bytes)
        } else {
            steps.append(.send(bytes))
        }
    }

    static func unescape(_ text: String) -> [UInt8] {
        var result: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "\\"), let next = bytes.popFirst() else {
                result.append(byte)
                continue
            }
            switch next {
            case UInt8(ascii: "r"): result.append(13)
            case UInt8(ascii: "n"): result.append(10)
            case UInt8(ascii: "t"): result.append(9)
            case UInt8(ascii: "0"): result.append(0)
            case UInt8(ascii: "x"):
                let hex = String(decoding: bytes.prefix(2), as: UTF8.self)
                bytes = bytes.dropFirst(2)
                result.append(UInt8(hex, radix: 16) ?? 0)
            default: result.append(next)
            }
        }
        return result
    }
}

public struct TranscriptError: Error, CustomStringConvertible {
    public let name: String
    public let line: Int
    public let message: String
    public var description: String { "\(name):\(line): \(message)" }
}
