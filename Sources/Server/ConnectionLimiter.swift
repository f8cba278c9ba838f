import MailModel
import Synchronization

/// Counts open connections, in total and per client, shared by every listener of a protocol. A client is
/// an IPv4 address or an IPv6 /64: one subscriber usually holds a whole /64, so counting its addresses
/// one by one would give it 2^64 times the limit.
public final class ConnectionLimiter: Sendable {
    public enum Admission: Equatable, Sendable {
        case admitted
        case tooManyConnections
        case tooManyFromClient
    }

    public let maxConnections: Int
    public let maxPerClient: Int
    private let counts = Mutex<(total: Int, perClient: [IPNetwork: Int])>((0, [:]))

    public init(maxConnections: Int, maxPerClient: Int) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
    }

    /// Takes a place for this client, or says why not. An admitted connection must call `release`.
    public func admit(_ address: IPAddress?) -> Admission {
        counts.withLock { counts in
            guard counts.total < maxConnections else { return .tooManyConnections }
            if let client = address.map(IPNetwork.init(clientOf:)) {
                guard counts.perClient[client, default: 0] < maxPerClient else { return .tooManyFromClient }
                counts.perClient[client, default: 0] += 1
            }
            counts.total += 1
            return .admitted
        }
    }

    public func release(_ address: IPAddress?) {
        counts.withLock { counts in
            counts.total -= 1
            if let client = address.map(IPNetwork.init(clientOf:)) {
                let remaining = counts.perClient[client, default: 1] - 1
                counts.perClient[client] = remaining > 0 ? remaining : nil
            }
        }
    }

    public var openConnections: Int { counts.withLock { $0.total } }
}
