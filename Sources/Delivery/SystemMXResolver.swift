import CResolv
import MailModel
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// MX lookups with the system resolver library (libresolv: `res_nquery`, `ns_parserr`), as RFC 5321 5.1
/// and RFC 7505 describe them:
///
/// - MX records, lowest preference first (ties in random order, to spread load);
/// - no MX records (NODATA): the domain itself, reached through its A/AAAA records;
/// - a null MX (a single `0 .`): the domain takes no mail, a permanent failure;
/// - a domain that does not exist (NXDOMAIN): permanent; a resolver that cannot answer: temporary.
///
/// Lookups block, so they run on the thread pool. `server` points libresolv at one name server instead of
/// /etc/resolv.conf's (tests use a responder on loopback; an operator may want a local cache).
public struct SystemMXResolver: MXResolver {
    public let threadPool: NIOThreadPool
    public let server: (address: String, port: Int)?

    public init(threadPool: NIOThreadPool, server: (address: String, port: Int)? = nil) {
        self.threadPool = threadPool
        self.server = server
    }

    public func mailHosts(for domain: String) async -> MailHosts {
        let server = self.server
        return (try? await threadPool.runIfActive { Self.lookup(domain, server: server) })
            ?? .failure("DNS lookup could not run", permanent: false)
    }

    /// With a `server`, A and AAAA records from it (so tests and operators who name one never reach
    /// another); without, getaddrinfo (which honours /etc/hosts and nsswitch.conf).
    public func addresses(of host: String, port: Int) async -> HostAddresses {
        if let literal = try? SocketAddress(ipAddress: host, port: port) { return .addresses([literal]) }
        let server = self.server
        return (try? await threadPool.runIfActive {
            server == nil
                ? AddressFamilyPolicy.resolve(host, port: port) : Self.addressRecords(host, port: port, server: server)
        }) ?? .unavailable
    }

    static func addressRecords(_ host: String, port: Int, server: (address: String, port: Int)?) -> HostAddresses {
        var state = relaygate_res_state()
        guard relaygate_res_ninit(&state) == 0 else { return .unavailable }
        defer { relaygate_res_nclose(&state) }
        if let server { relaygate_res_use_server(&state, server.address, Int32(server.port)) }
        var addresses: [SocketAddress] = []
        var missing = 0
        for type in [ns_t_a, ns_t_aaaa] {
            var answer = [UInt8](repeating: 0, count: 65536)
            let length = relaygate_res_nquery(&state, host, Int32(type.rawValue), &answer, Int32(answer.count))
            if length < 0 {
                let error = relaygate_res_h_errno(&state)
                if error == HOST_NOT_FOUND || error == NO_DATA { missing += 1 }
                continue
            }
            var message = ns_msg()
            guard ns_initparse(answer, length, &message) == 0 else { continue }
            for index in 0..<Int(relaygate_ns_answer_count(&message)) {
                var record = ns_rr()
                guard ns_parserr(&message, ns_s_an, Int32(index), &record) == 0, record.type == UInt16(type.rawValue),
                    let rdata = record.rdata
                else { continue }
                let bytes = Array(UnsafeBufferPointer(start: rdata, count: Int(record.rdlength)))
                if let address = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: bytes), port: port) {
                    addresses.append(address)
                }
            }
            if relaygate_ns_answer_count(&message) == 0 { missing += 1 }
        }
        if !addresses.isEmpty { return .addresses(addresses) }
        return missing == 2 ? .notFound : .unavailable
    }

    static func lookup(_ domain: String, server: (address: String, port: Int)?) -> MailHosts {
        var state = relaygate_res_state()
        guard relaygate_res_ninit(&state) == 0 else { return .failure("resolver initialisation failed", permanent: false) }
        defer { relaygate_res_nclose(&state) }
        if let server { relaygate_res_use_server(&state, server.address, Int32(server.port)) }
        var answer = [UInt8](repeating: 0, count: 65536)
        let length = relaygate_res_nquery(&state, domain, Int32(ns_t_mx.rawValue), &answer, Int32(answer.count))
        if length < 0 {
            switch relaygate_res_h_errno(&state) {
            case HOST_NOT_FOUND:
                return .failure("\(domain): no such domain (NXDOMAIN)", permanent: true, status: EnhancedStatusCode(5, 1, 2))
            case NO_DATA: return .hosts([domain])  // no MX: the domain itself (RFC 5321 5.1)
            default: return .failure("\(domain): DNS lookup failed, will retry", permanent: false)
            }
        }
        var message = ns_msg()
        guard ns_initparse(answer, length, &message) == 0 else {
            return .failure("\(domain): unreadable DNS answer", permanent: false)
        }
        var records: [(preference: Int, host: String)] = []
        let count = Int(relaygate_ns_answer_count(&message))
        for index in 0..<count {
            var record = ns_rr()
            guard ns_parserr(&message, ns_s_an, Int32(index), &record) == 0, record.type == UInt16(ns_t_mx.rawValue),
                record.rdlength >= 3, let rdata = record.rdata
            else { continue }
            let preference = Int(rdata[0]) << 8 | Int(rdata[1])
            var name = [CChar](repeating: 0, count: Int(NS_MAXDNAME))
            guard dn_expand(message._msg, message._eom, rdata + 2, &name, Int32(name.count)) >= 0 else { continue }
            let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            records.append((preference, host))
        }
        if records.isEmpty { return .hosts([domain]) }
        if records.count == 1 && records[0].host.isEmpty || records.allSatisfy({ $0.host.isEmpty || $0.host == "." }) {
            return .failure("\(domain) accepts no mail (null MX, RFC 7505)", permanent: true, status: EnhancedStatusCode(5, 1, 10))
        }
        let ordered = Dictionary(grouping: records.filter { !$0.host.isEmpty }, by: \.preference)
            .sorted { $0.key < $1.key }
            .flatMap { $0.value.shuffled().map(\.host) }
        return .hosts(ordered)
    }
}
