import MailModel
import NIOCore
import ProtocolSupport

/// Reads SMTP replies (RFC 5321 4.2) from a server: `250-first`, `250 last`, each line ending in CRLF.
/// Anything else — a bad code, lines of different codes in one reply, an overlong line or reply — is a
/// protocol error, never a crash.
public struct SMTPReplyParser: Sendable {
    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case malformedLine(String)
        case tooLong

        public var description: String {
            switch self {
            case .malformedLine(let line): "malformed reply line: \(line)"
            case .tooLong: "reply too long"
            }
        }
    }

    public static let maxLines = 100
    private var framer = CRLFLineFramer(maxLineLength: 4096)
    private var code: Int?
    private var lines: [String] = []

    public init() {}

    /// The next complete reply in `buffer`, nil when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) throws(ParseError) -> SMTPReply? {
        while let frame = framer.next(from: &buffer) {
            guard case .line(let bytes) = frame else { throw .tooLong }
            let text = String(decoding: bytes, as: UTF8.self)
            guard bytes.count >= 3, bytes.prefix(3).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Int(String(decoding: bytes.prefix(3), as: UTF8.self)), (200...599).contains(value),
                bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-"),
                code == nil || code == value
            else { throw .malformedLine(SafeText.sanitized(text, limit: 80)) }
            code = value
            lines.append(bytes.count > 4 ? String(text.dropFirst(4)) : "")
            guard lines.count <= Self.maxLines else { throw .tooLong }
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") {
                defer {
                    code = nil
                    lines = []
                }
                return Self.reply(value, lines)
            }
        }
        return nil
    }

    /// Splits an RFC 2034 enhanced code off the text when the server sent one.
    static func reply(_ code: Int, _ lines: [String]) -> SMTPReply {
        guard let first = lines.first, let space = first.firstIndex(of: " "),
            let enhanced = EnhancedStatusCode(first[..<space]), enhanced.statusClass == code / 100
        else { return SMTPReply(code, nil, lines) }
        let stripped = lines.map { line -> String in
            guard line.hasPrefix(enhanced.description + " ") else { return line }
            return String(line.dropFirst(enhanced.description.count + 1))
        }
        return SMTPReply(code, enhanced, stripped)
    }

    /// Forgets partial input (after STARTTLS).
    public mutating func reset() {
        framer.reset()
        code = nil
        lines = []
    }
}
