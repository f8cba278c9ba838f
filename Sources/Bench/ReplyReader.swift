import NIOCore

/// Reads SMTP replies (RFC 5321 4.2) from an async byte stream: lines up to CRLF, a reply ends at the line
/// whose code is followed by a space.
struct ReplyReader {
    struct Reply {
        let code: Int
        let text: String
    }

    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()

    init(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) {
        iterator = inbound.makeAsyncIterator()
    }

    mutating func next() async throws -> Reply {
        var lines: [String] = []
        while true {
            let line = try await nextLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let code = Int(String(decoding: bytes.prefix(3), as: UTF8.self)) else {
                throw BenchError("malformed reply line: \(line)")
            }
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") {
                return Reply(code: code, text: lines.joined(separator: "\n"))
            }
        }
    }

    private mutating func nextLine() async throws -> String {
        while true {
            // Lines end at LF; the CR before it is dropped. Looking for CR first would hang on a bare CR.
            let view = buffer.readableBytesView
            if let lf = view.firstIndex(of: UInt8(ascii: "\n")) {
                let length = lf - view.startIndex
                var line = buffer.readString(length: length)!
                buffer.moveReaderIndex(forwardBy: 1)
                if line.utf8.last == UInt8(ascii: "\r") { line.removeLast() }
                return line
            }
            guard var more = try await iterator.next() else { throw BenchError("connection closed by the server") }
            buffer.writeBuffer(&more)
        }
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
