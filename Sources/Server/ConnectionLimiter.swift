import MailModel
import Synchronization

/// Counts open connections, in total and per client address, shared by every listener of a protocol.
public final class ConnectionLimiter: Sendable {
    public enum Admission: Equatable, Sendable {
        case admitted
        case tooManyConnections
        case tooManyFromClient
    }

    public let maxConnections: Int
    public let maxPerClient: Int
    private let counts = Mutex<(total: Int, perClient: [IPAddress: Int])>((0, [:]))

    public init(maxConnections: Int, maxPerClient: Int) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
    }

    /// Takes a place for this client, or says why not. An admitted connection must call `release`.
    public func admit(_ client: IPAddress?) -> Admission {
        counts.withLock { counts in
            guard counts.total < maxConnections else { return .tooManyConnections }
            if let client {
                guard counts.perClient[client, default: 0] < maxPerClient else { return .tooManyFromClient }
                counts.perClient[client, default: 0] += 1
            }
            counts.total += 1
            return .admitted
        }
    }

    public func release(_ client: IPAddress?) {
        counts.withLock { counts in
            counts.total -= 1
            if let client {
                let remaining = counts.perClient[client, default: 1] - 1
                counts.perClient[client] = remaining > 0 ? remaining : nil
            }
        }
    }

    public var openConnections: Int { counts.withLock { $0.total } }
}
