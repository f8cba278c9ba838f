#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address as bytes, parsed with `inet_pton` so that every textual form the C library
/// accepts is accepted, and nothing else. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4
/// address it maps, so that a dual-stack listener sees IPv4 clients as IPv4.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 or 16 bytes, network order.
    public let bytes: [UInt8]

    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4:
            self.bytes = bytes
        case 16:
            let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
            self.bytes = Array(bytes.prefix(12)) == mappedPrefix ? Array(bytes.suffix(4)) : bytes
        default:
            return nil
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }
    public var isIPv6: Bool { bytes.count == 16 }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        return bytes.withUnsafeBytes { raw in
            guard inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// A CIDR network such as `127.0.0.0/8` or `::1/128`, for `relay_networks`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS/PREFIX` or a bare address (a host network). The host bits must be zero, so that a
    /// typo such as `10.0.0.1/8` is caught instead of silently meaning `10.0.0.0/8`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let maxLength = address.bytes.count * 8
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), parsed >= 0, parsed <= maxLength,
                parts[1].allSatisfy(\.isASCII)
            else { return nil }
            length = parsed
        } else {
            length = maxLength
        }
        self.address = address
        self.prefixLength = length
        guard Self.masked(address.bytes, length) == address.bytes else { return nil }
    }

    /// The network of `prefixLength` bits that holds `address` (host bits cleared).
    /// The block one client is counted as, for limits: an IPv4 address itself, or the IPv6 /64 around it
    /// (one subscriber usually holds a whole /64, so stepping through its addresses must not reset a count).
    public init(clientOf address: IPAddress) {
        self.init(containing: address, prefixLength: address.isIPv4 ? 32 : 64)
    }

    public init(containing address: IPAddress, prefixLength: Int) {
        let length = min(max(prefixLength, 0), address.bytes.count * 8)
        self.address = IPAddress(bytes: Self.masked(address.bytes, length)) ?? address
        self.prefixLength = length
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        return Self.masked(candidate.bytes, prefixLength) == address.bytes
    }

    public var description: String { "\(address)/\(prefixLength)" }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bitsInByte = min(max(length - index * 8, 0), 8)
            let mask: UInt8 = bitsInByte == 0 ? 0 : ~UInt8(0) << (8 - bitsInByte)
            return byte & mask
        }
    }
}
