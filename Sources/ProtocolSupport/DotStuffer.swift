import NIOCore

/// Prepares stored content for the wire where a line of one `.` ends it: SMTP DATA (RFC 5321 4.5.2) and POP3
/// RETR and TOP (RFC 1939 3). A line that starts with `.` gets a second one, every line ends with CRLF, and
/// the content ends with CRLF before the final `.` line. Works chunk by chunk: a line start or a CRLF may
/// fall on a chunk boundary.
///
/// Only CRLF ends a line on the wire, so a bare LF (as in a file another program put into a Maildir) and a
/// bare CR both become CRLF. A bare CR left as it is would let stored content hold `<CR>.<CR>` or `\r.\n`,
/// which some receivers take for the end of the data: SMTP smuggling. Intake already refuses both, so SMTP
/// content passes unchanged, octet for octet (a DKIM signature over it still verifies).
///
/// With `bodyLineLimit` (POP3 TOP, RFC 1939 7) only the header, the blank line after it and that many body
/// lines are sent; after them `isComplete` is true and further input is ignored.
public struct DotStuffer: Sendable {
    public let bodyLineLimit: Int?
    public private(set) var isComplete = false
    private var atLineStart = true
    /// True when the last octet of the content so far ended a line.
    private var lineEnded = true
    /// A CR whose meaning depends on the next octet (possibly in the next chunk): CRLF, or a bare CR.
    private var pendingCR = false
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
                if pendingCR {
                    // The CR was held back: with this LF it is a CRLF; alone, it ends a line all the same.
                    pendingCR = false
                    output.writeBytes([13, 10])
                    endOfLine()
                    if byte == 10 {
                        index += 1
                        runStart = index
                        continue
                    }
                    runStart = index
                    if isComplete { break }
                }
                if byte == 13 || byte == 10 {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    index += 1
                    runStart = index
                    if byte == 13 {
                        pendingCR = true
                    } else {
                        output.writeBytes([13, 10])
                        endOfLine()
                    }
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
                lineIsEmpty = false
                lineEnded = false
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
        lineEnded = true
    }

    /// What ends the content: CRLF if the content did not end with a line end (a final bare CR counts as
    /// none yet: it becomes that CRLF), then `.` CRLF.
    public func terminator() -> ByteBuffer {
        ByteBuffer(string: lineEnded && !pendingCR ? ".\r\n" : "\r\n.\r\n")
    }
}
