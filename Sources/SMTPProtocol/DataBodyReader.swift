import NIOCore

/// Reads the message content after DATA (RFC 5321 4.1.1.4) as it streams in: removes dot-stuffing
/// (4.5.2), finds the end of data, and notes everything that makes the message unacceptable, without ever
/// holding more than the bytes of the current read.
///
/// Only `CRLF . CRLF` ends the data. A bare CR or LF anywhere, or a NUL, marks the message for refusal, but
/// reading goes on to the real end, so that text after a lone `\n.\n` is never taken for commands (the SMTP
/// smuggling class of CVE-2023-51764). A message over the size limit is likewise read to its end; output
/// stops at the limit, so nothing more reaches the disk.
///
/// While in the header section it also counts `Received:` fields, for mail-loop detection (RFC 5321 6.3).
public struct DataBodyReader: Sendable {
    public struct Summary: Equatable, Sendable {
        /// Octets of content after unstuffing, whether or not they were output.
        public var size: Int
        public var exceededSizeLimit: Bool
        public var sawBareCR: Bool
        public var sawBareLF: Bool
        public var sawNUL: Bool
        public var receivedHeaderCount: Int
        public var has8BitOctets: Bool
    }

    private enum State: Sendable {
        /// After CRLF, or at the very start.
        case lineStart
        /// A `.` at the start of a line, not yet known to be the end marker.
        case dot
        /// `.` CR at the start of a line.
        case dotCR
        case inLine
        /// A CR inside a line; must be followed by LF.
        case carriageReturn
    }

    private let maxSize: Int
    private var state = State.lineStart
    private var summary = Summary(
        size: 0, exceededSizeLimit: false, sawBareCR: false, sawBareLF: false, sawNUL: false,
        receivedHeaderCount: 0, has8BitOctets: false)
    private var inHeaderSection = true
    /// The first octets of the current header line, lower-cased, up to `received:`.
    private var headerPrefix: [UInt8] = []
    private static let receivedPrefix = Array("received:".utf8)

    public init(maxSize: Int) {
        self.maxSize = maxSize
    }

    public var currentSummary: Summary { summary }

    /// Consumes input up to and including the end-of-data line, writing unstuffed content to `output`.
    /// Returns true once the end was found; bytes after it stay in `input` (they are pipelined commands).
    public mutating func consume(_ input: inout ByteBuffer, into output: inout ByteBuffer) -> Bool {
        let (consumed, finished) = input.withUnsafeReadableBytes { raw in
            self.scan(raw, into: &output)
        }
        input.moveReaderIndex(forwardBy: consumed)
        return finished
    }

    private mutating func scan(_ raw: UnsafeRawBufferPointer, into output: inout ByteBuffer) -> (Int, Bool) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        // Content is copied in runs; a held-back byte (a dot, or the CR after a dot) ends a run.
        var runStart = 0
        var index = 0
        while index < raw.count {
            switch state {
            case .inLine:
                // The common case: plain text up to the next CR, LF or NUL.
                var scan = index
                while scan < raw.count {
                    let candidate = raw[scan]
                    if candidate == cr || candidate == lf || candidate == 0 { break }
                    if candidate >= 0x80 { summary.has8BitOctets = true }
                    scan += 1
                }
                if inHeaderSection { noteHeaderBytes(raw, index..<scan) }
                index = scan
                guard index < raw.count else { break }
                switch raw[index] {
                case cr: state = .carriageReturn
                case lf: summary.sawBareLF = true
                default: summary.sawNUL = true
                }
                index += 1
            case .lineStart:
                let byte = raw[index]
                if byte == UInt8(ascii: ".") {
                    append(raw, runStart..<index, to: &output)
                    index += 1
                    runStart = index
                    state = .dot
                } else if byte == cr {
                    // An empty line ends the header section.
                    inHeaderSection = false
                    state = .carriageReturn
                    index += 1
                } else {
                    state = .inLine
                }
            case .dot:
                if raw[index] == cr {
                    index += 1
                    runStart = index
                    state = .dotCR
                } else {
                    // A stuffed line: the dot is dropped and this byte is the first of the real content.
                    state = .inLine
                }
            case .dotCR:
                if raw[index] == lf {
                    // End of data: neither the dot nor its CRLF is content.
                    return (index + 1, true)
                }
                // `.` CR and then not LF: the CR was bare. It is content of a stuffed line.
                summary.sawBareCR = true
                if admit(1) == 1 { output.writeInteger(cr) }
                state = .inLine
            case .carriageReturn:
                if raw[index] == lf {
                    index += 1
                    if inHeaderSection { finishHeaderLine() }
                    state = .lineStart
                } else {
                    summary.sawBareCR = true
                    state = .inLine
                }
            }
        }
        append(raw, runStart..<raw.count, to: &output)
        return (raw.count, false)
    }

    /// Writes a run of content out, as much of it as fits under the size limit.
    private mutating func append(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, to output: inout ByteBuffer) {
        let fitting = admit(range.count)
        guard fitting > 0 else { return }
        output.writeBytes(UnsafeRawBufferPointer(rebasing: raw[range.lowerBound..<range.lowerBound + fitting]))
    }

    /// Counts content octets; returns how many of them still fit under the limit (and so may be written).
    private mutating func admit(_ count: Int) -> Int {
        let room = max(0, maxSize - summary.size)
        summary.size += count
        if summary.size > maxSize { summary.exceededSizeLimit = true }
        return min(room, count)
    }

    private mutating func noteHeaderBytes(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) {
        let room = Self.receivedPrefix.count - headerPrefix.count
        guard room > 0 else { return }
        for index in range.prefix(room) {
            let byte = raw[index]
            headerPrefix.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
        }
    }

    private mutating func finishHeaderLine() {
        if headerPrefix == Self.receivedPrefix { summary.receivedHeaderCount += 1 }
        headerPrefix.removeAll(keepingCapacity: true)
    }
}
