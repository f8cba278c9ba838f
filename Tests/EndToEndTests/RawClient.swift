import Foundation

/// A TCP client for raw SMTP dialogs: exact bytes out, replies in, with a timeout on every read. The socket
/// calls block, so each runs on a thread of its own (`unblocked`), never on the test's pool thread.
final class RawClient: @unchecked Sendable {
    // @unchecked: a client belongs to one test, which awaits each call before making the next.
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeout: Duration = .seconds(10)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerProcessError("socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        // No close here: the instance is whole, so a throw still runs deinit, which closes the socket. Closing
        // twice could close a descriptor another thread has opened meanwhile.
        guard connected == 0 else {
            throw ServerProcessError("connect to port \(port): \(String(cString: strerror(errno)))")
        }
        var time = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) async throws {
        try await unblocked { try self.sendNow(bytes) }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    /// The next whole reply (all its lines), or nil if the server closed the connection.
    func readReply() async throws -> [String]? {
        try await unblocked { try self.readReplyNow() }
    }

    /// The next line, whatever it is (POP3 and IMAP replies are not SMTP's), or nil if the server closed.
    func readAnyLine() async throws -> String? {
        try await unblocked { try self.readLine() }
    }

    /// True when the server has closed the connection (after any replies still unread).
    func isClosed() async throws -> Bool {
        try await unblocked { try self.readLine() == nil }
    }

    private func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw ServerProcessError("send failed: \(String(cString: strerror(errno)))") }
            offset += sent
        }
    }

    private func readReplyNow() throws -> [String]? {
        var lines: [String] = []
        while true {
            guard let line = try readLine() else { return lines.isEmpty ? nil : lines }
            lines.append(line)
            if line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] == " " { return lines }
        }
    }

    private func readLine() throws -> String? {
        while true {
            if let cr = buffer.firstIndex(of: 13), cr + 1 < buffer.count, buffer[cr + 1] == 10 {
                let line = String(decoding: buffer[..<cr], as: UTF8.self)
                buffer.removeFirst(cr + 2)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return nil }
            if count < 0 {
                if errno == ECONNRESET { return nil }
                throw ServerProcessError("no reply in time (\(String(cString: strerror(errno))))")
            }
            buffer += chunk[..<count]
        }
    }
}
