import NIOCore

/// Prepares stored content for DATA (RFC 5321 4.5.2): a line that starts with `.` gets a second one, and
/// the content ends with CRLF before the final `.` line. Stored content already has CRLF line ends
/// (intake refuses bare CR and LF), so nothing else changes. Works chunk by chunk: a line start may fall
/// on a chunk boundary.
public struct DotStuffer: Sendable {
    private var atLineStart = true
    private var lastTwo: (UInt8, UInt8) = (13, 10)

    public init() {}

    public mutating func stuff(_ chunk: ByteBuffer) -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(chunk.readableBytes + 16)
        for byte in chunk.readableBytesView {
            if atLineStart && byte == UInt8(ascii: ".") { output.writeInteger(UInt8(ascii: ".")) }
            output.writeInteger(byte)
            atLineStart = lastTwo.1 == 13 && byte == 10
            lastTwo = (lastTwo.1, byte)
        }
        return output
    }

    /// What ends the content: CRLF if the content did not end with one, then `.` CRLF.
    public func terminator() -> ByteBuffer {
        ByteBuffer(string: lastTwo == (13, 10) ? ".\r\n" : "\r\n.\r\n")
    }
}
