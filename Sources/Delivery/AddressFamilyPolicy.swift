import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Which IP versions delivery connects over (`delivery.ip_version`): some hosts have broken IPv6 routes,
/// some networks are IPv6-only. Every address of a host is tried, in this order, before the next host.
public enum AddressFamilyPolicy: String, Sendable, CaseIterable {
    /// The system's order (RFC 6724, as getaddrinfo gives it).
    case any
    case ipv4
    case ipv6
    case preferIPv4 = "prefer-ipv4"
    case preferIPv6 = "prefer-ipv6"

    /// `addresses` filtered and ordered by the policy; the system's order is kept within each family.
    public func order(_ addresses: [SocketAddress]) -> [SocketAddress] {
        let v4 = addresses.filter { $0.protocol == .inet }
        let v6 = addresses.filter { $0.protocol == .inet6 }
        switch self {
        case .any: return addresses
        case .ipv4: return v4
        case .ipv6: return v6
        case .preferIPv4: return v4 + v6
        case .preferIPv6: return v6 + v4
        }
    }

    /// Every TCP address of `host` (blocking: getaddrinfo). A name that does not exist or has no address
    /// is `notFound`; any other failure (no answer from DNS) `unavailable`.
    static func resolve(_ host: String, port: Int) -> HostAddresses {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return .addresses([literal]) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            // EAI_NODATA (-5, "no address for this name") is glibc's, declared only for _GNU_SOURCE.
            return status == EAI_NONAME || status == -5 ? .notFound : .unavailable
        }
        defer { freeaddrinfo(first) }
        var result: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        result.append(SocketAddress($0.pointee, host: host))
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        result.append(SocketAddress($0.pointee, host: host))
                    }
                default:
                    break
                }
            }
            cursor = entry.pointee.ai_next
        }
        var seen = Set<String>()
        return .addresses(result.filter { seen.insert("\($0)").inserted })
    }
}
