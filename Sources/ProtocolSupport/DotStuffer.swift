import NIOCore

/// Prepares stored content for the wire where a line of one `.` ends it: SMTP DATA (RFC 5321 4.5.2) and POP3
/// RETR and TOP (RFC 1939 3). A line that starts with `.` gets a second one, every line ends with CRLF (a
/// bare LF, as in a file another program put into a Maildir, becomes CRLF; intake already refuses them, so
/// SMTP content passes unchanged), and the content ends with CRLF before the final `.` line. Works chunk by
/// chunk: a line start or a CRLF may fall on a chunk boundary.
///
/// With `bodyLineLimit` (POP3 TOP, RFC 1939 7) only the header, the blank line after it and that many body
/// lines are sent; after them `isComplete` is true and further input is ignored.
public struct DotStuffer: Sendable {
    public let bodyLineLimit: Int?
    public private(set) var isComplete = false
    private var atLineStart = true
    private var previous: UInt8 = 10
    private var lineIsEmpty = true
    private var inHeader = true
    private var bodyLines = 0

    public init(bodyLineLimit: Int? = nil) {
        self.bodyLineLimit = bodyLineLimit
        isComplete = false
    }

    public mutating func stuff(_ chunk: ByteBuffer) -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(chunk.readableBytes + chunk.readableBytes / 32 + 16)
        chunk.withUnsafeReadableBytes { bytes in
            var runStart = 0
            var index = 0
            // Copies runs of ordinary octets at once; stops only at line ends and line starts.
            while index < bytes.count && !isComplete {
                let byte = bytes[index]
                if byte == 10 {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    output.writeBytes(previous == 13 ? [10] : [13, 10])
                    endOfLine()
                    previous = 10
                    index += 1
                    runStart = index
                    continue
                }
                if atLineStart {
                    if byte == UInt8(ascii: ".") {
                        output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                        output.writeInteger(UInt8(ascii: "."))
                        runStart = index
                    }
                    atLineStart = false
                }
                if byte != 13 { lineIsEmpty = false }
                previous = byte
                index += 1
            }
            output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
        }
        return output
    }

    private mutating func endOfLine() {
        if inHeader {
            if lineIsEmpty { inHeader = false }
        } else {
            bodyLines += 1
        }
        if !inHeader, let bodyLineLimit, bodyLines >= bodyLineLimit { isComplete = true }
        atLineStart = true
        lineIsEmpty = true
    }

    /// What ends the content: CRLF if the content did not end with one, then `.` CRLF.
    public func terminator() -> ByteBuffer {
        ByteBuffer(string: previous == 10 ? ".\r\n" : "\r\n.\r\n")
    }
}
