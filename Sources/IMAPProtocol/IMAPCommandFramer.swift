import NIOCore
import ProtocolSupport

/// One piece of a command as it arrived: a line (without its CRLF), or the octets of a literal announced at
/// the end of the line before it (RFC 3501 4.3).
public enum IMAPSegment: Equatable, Sendable {
    case line([UInt8])
    case literal([UInt8])
    /// A literal whose octets went to the session as they came (`IMAPCommandFramer.streamLiteralsFrom`).
    case streamedLiteral(size: Int)
}

/// Splits IMAP input into whole commands. A command is a line, or lines joined by literals: a line ending in
/// `{N}` (synchronizing: the client waits for our "+" before sending the N octets) or `{N+}` (LITERAL+, RFC
/// 7888: it sends them straight away) is followed by exactly N octets and then the rest of the command.
///
/// Limits keep memory bounded whatever a client announces: each line is at most `maxLineLength`, a literal
/// at most `maxLiteralSize`, and a command at most `maxLiterals` literals and `maxCommandSize` octets in
/// all. A literal over a limit is refused when it is announced, before any of its octets are read. The
/// session lowers the literal and command limits before login (`IMAPSession.Configuration`).
public struct IMAPCommandFramer: Sendable {
    public enum Event: Equatable, Sendable {
        /// A whole command.
        case command([IMAPSegment])
        /// A synchronizing literal of this size was announced: say "+" if it is welcome. The framer now
        /// waits for its octets.
        case continuationNeeded(size: Int)
        /// A line longer than the limit ended; it (and the command it was part of) was dropped. `firstLine`
        /// is the command's first line, or as much of its start as was kept: where the tag is.
        case lineTooLong(firstLine: [UInt8])
        /// A literal above the limit was announced, in the command beginning with this line. A synchronizing
        /// one was never sent (the client waits for a "+" that will not come), so the session goes on; a
        /// non-synchronizing one is on its way and the connection must be closed (RFC 7888 4).
        case literalTooLarge(firstLine: [UInt8], synchronizing: Bool)
        /// A literal of at least `streamLiteralsFrom` octets was announced after `head` (the command so far).
        /// Its octets come as `literalChunk`s, never held here, then the command goes on. The session
        /// may `refuseStream()` at once instead (a synchronizing one is then never sent).
        case literalStreamStarted(head: [IMAPSegment], size: Int, synchronizing: Bool)
        case literalChunk(ByteBuffer)
    }

    public var maxLineLength: Int
    public var maxLiteralSize: Int
    public var maxLiterals = 64
    /// Octets of a whole command: its lines and the literals held here (streamed ones do not count).
    public var maxCommandSize: Int
    /// Literals this large or larger are streamed (`literalStreamStarted`) rather than held.
    public var streamLiteralsFrom = Int.max
    private var lines: CRLFLineFramer
    private var segments: [IMAPSegment] = []
    /// Octets of the command so far (lines and literals).
    private var commandSize = 0
    /// Octets of the literal still to come, while reading one.
    private var literalRemaining: Int?
    private var literal: [UInt8] = []
    /// The literal being read is streamed: its size, and no octets are kept.
    private var streaming: Int?

    public init(maxLineLength: Int, maxLiteralSize: Int, maxCommandSize: Int = .max) {
        self.maxLineLength = maxLineLength
        self.maxLiteralSize = maxLiteralSize
        self.maxCommandSize = maxCommandSize
        lines = CRLFLineFramer(maxLineLength: maxLineLength)
    }

    /// True while a literal's octets are being read (no line framing applies to them).
    public var isReadingLiteral: Bool { literalRemaining != nil }

    /// Drops a partial command (after STARTTLS, say).
    public mutating func reset() {
        lines = CRLFLineFramer(maxLineLength: maxLineLength)
        segments = []
        commandSize = 0
        literalRemaining = nil
        literal = []
        streaming = nil
    }

    /// The session will not take the literal `literalStreamStarted` announced. A synchronizing one is never
    /// sent and the command is dropped; for a non-synchronizing one the session closes the connection.
    public mutating func refuseStream() {
        segments = []
        commandSize = 0
        literalRemaining = nil
        streaming = nil
    }

    public mutating func next(from buffer: inout ByteBuffer) -> Event? {
        while true {
            if let remaining = literalRemaining {
                let take = min(remaining, buffer.readableBytes)
                if let size = streaming {
                    guard take > 0, let chunk = buffer.readSlice(length: take) else { return nil }
                    literalRemaining = remaining - take
                    if remaining - take == 0 {
                        segments.append(.streamedLiteral(size: size))
                        literalRemaining = nil
                        streaming = nil
                    }
                    return .literalChunk(chunk)
                }
                if take > 0, let bytes = buffer.readBytes(length: take) { literal += bytes }
                guard remaining - take == 0 else {
                    literalRemaining = remaining - take
                    return nil
                }
                segments.append(.literal(literal))
                literal = []
                literalRemaining = nil
                continue
            }
            guard let frame = lines.next(from: &buffer) else { return nil }
            let first = segments.first.flatMap { if case .line(let bytes) = $0 { bytes } else { nil } }
            switch frame {
            case .tooLong:
                segments = []
                commandSize = 0
                return .lineTooLong(firstLine: first ?? lines.discardedHead)
            case .line(let line):
                commandSize += line.count + 2
                guard let announced = Self.literalAnnouncement(at: line) else {
                    segments.append(.line(line))
                    defer {
                        segments = []
                        commandSize = 0
                    }
                    return .command(segments)
                }
                let literals = segments.count / 2 + 1
                let streamed = announced.size >= streamLiteralsFrom
                guard announced.size <= maxLiteralSize, literals <= maxLiterals,
                    streamed || announced.size <= maxCommandSize - min(commandSize, maxCommandSize)
                else {
                    segments = []
                    commandSize = 0
                    return .literalTooLarge(firstLine: first ?? line, synchronizing: announced.synchronizing)
                }
                segments.append(.line(Array(line[..<announced.start])))
                if streamed {
                    literalRemaining = announced.size
                    streaming = announced.size
                    return .literalStreamStarted(
                        head: segments, size: announced.size, synchronizing: announced.synchronizing)
                }
                commandSize += announced.size
                literalRemaining = announced.size
                literal.reserveCapacity(min(announced.size, 1 << 20))
                if announced.synchronizing { return .continuationNeeded(size: announced.size) }
            }
        }
    }

    /// `{N}` or `{N+}` at the very end of a line: where it starts, its size, whether it is synchronizing.
    static func literalAnnouncement(at line: [UInt8]) -> (start: Int, size: Int, synchronizing: Bool)? {
        guard line.last == UInt8(ascii: "}"), let open = line.lastIndex(of: UInt8(ascii: "{")) else { return nil }
        var digits = line[(open + 1)..<(line.count - 1)]
        let synchronizing = digits.last != UInt8(ascii: "+")
        if !synchronizing { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let size = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        return (open, size, synchronizing)
    }
}
