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
            let view = buffer.readableBytesView
            if let cr = view.firstIndex(of: UInt8(ascii: "\r")), view.index(after: cr) < view.endIndex,
                view[view.index(after: cr)] == UInt8(ascii: "\n")
            {
                let length = cr - view.startIndex
                let line = buffer.readString(length: length)!
                buffer.moveReaderIndex(forwardBy: 2)
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
