import NIOCore

/// Splits command input into lines for SMTP, POP3 and IMAP. Only CRLF ends a line (RFC 5321 2.3.8, RFC 1939
/// 3, RFC 3501 2.2): a bare CR or LF stays inside the line, where the command parser refuses it. NIO's `LineBasedFrameDecoder` is not used because it
/// accepts a bare LF and has no length limit.
///
/// A line longer than the limit is discarded as it arrives, so memory stays bounded even if its CRLF never
/// comes; `tooLong` is reported when the CRLF does arrive, so replies stay in line order for a pipelining
/// client.
public struct CRLFLineFramer: Sendable {
    public enum Frame: Equatable, Sendable {
        /// A line without its CRLF.
        case line([UInt8])
        /// A line longer than the limit ended; its bytes were dropped.
        case tooLong
    }

    /// The longest line accepted, CRLF included (RFC 5321 4.5.3.1.4 counts it so).
    public var maxLineLength: Int
    /// The first octets of the last line dropped as too long (up to `headLength`): enough for IMAP to
    /// read the tag it must answer.
    public private(set) var discardedHead: [UInt8] = []
    public static let headLength = 64
    private var discarding = false
    /// Bytes at the front of the buffer already searched for CRLF, so a line that trickles in is not
    /// searched again from its start on every read.
    private var searched = 0

    public init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    public mutating func next(from buffer: inout ByteBuffer) -> Frame? {
        let view = buffer.readableBytesView
        var index = view.startIndex + max(0, searched - 1)
        while let cr = view[index...].firstIndex(of: UInt8(ascii: "\r")) {
            let lf = view.index(after: cr)
            guard lf < view.endIndex else { break }
            if view[lf] != UInt8(ascii: "\n") {
                index = lf
                continue
            }
            let lineLength = cr - view.startIndex
            let line = Array(view[view.startIndex..<cr])
            buffer.moveReaderIndex(forwardBy: lineLength + 2)
            searched = 0
            if discarding || lineLength + 2 > maxLineLength {
                if !discarding { discardedHead = Array(line.prefix(Self.headLength)) }
                discarding = false
                return .tooLong
            }
            return .line(line)
        }
        // No complete line yet. Keep at most the limit; beyond it, drop all but a trailing CR that may be
        // half of the CRLF we wait for.
        if buffer.readableBytes > maxLineLength || (discarding && buffer.readableBytes > 1) {
            if !discarding { discardedHead = Array(view.prefix(Self.headLength)) }
            discarding = true
            let keep = view.last == UInt8(ascii: "\r") ? 1 : 0
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes - keep)
            searched = keep
        } else {
            searched = buffer.readableBytes
        }
        return nil
    }

    /// Forgets a partial line, for STARTTLS: nothing read before the handshake may count afterwards.
    public mutating func reset() {
        discarding = false
        searched = 0
    }
}
