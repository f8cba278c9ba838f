import NIOCore

/// A listening address as written on the command line and in relaygate.yaml: `0.0.0.0:25`, `[::]:465`,
/// `127.0.0.1:2525`, `localhost:2525`. Port 0 asks the system for a free port (the log says which).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port), portText.allSatisfy(\.isNumber)
        else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Resolves the host (a literal, or a name through the system resolver).
    public func socketAddress() throws -> SocketAddress {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return literal }
        return try SocketAddress.makeAddressResolvingHost(host, port: port)
    }
}
