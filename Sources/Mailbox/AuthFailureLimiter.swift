import MailModel

/// Slows down and then stops password guessing, per client. Pure: time is passed in.
///
/// Every attempt counts as a failure from the moment it starts (`begin`), so a client cannot get more
/// guesses in by sending many at once on parallel connections; an attempt that succeeds is taken back
/// (`finish`). A success takes back only its own attempt, never earlier failures: someone who knows one
/// password could otherwise clear the count between guesses at others.
///
/// Each failure from a client in the last `window` makes its next failure reply wait longer
/// (`delayPerFailure` times the count, up to `maximumDelay`); at `maxFailures` the client may not try at
/// all until its oldest failure leaves the window. IPv6 clients are counted per /64, the block one
/// subscriber usually holds, so stepping through the addresses of one network does not reset the count.
/// At most `capacity` clients are remembered; the stalest are forgotten first, so a flood of addresses
/// cannot exhaust memory.
public struct AuthFailureLimiter: Sendable {
    public var maxFailures: Int
    public var window: Duration
    public var delayPerFailure: Duration
    public var maximumDelay: Duration
    public var capacity: Int

    /// Attempt start times per client, oldest first.
    private var failures: [IPNetwork: [Duration]] = [:]

    /// An attempt under way, to be passed back to `finish`.
    public struct Attempt: Sendable {
        fileprivate let client: IPNetwork
        fileprivate let started: Duration
    }

    public init(
        maxFailures: Int = 5, window: Duration = .seconds(15 * 60), delayPerFailure: Duration = .seconds(1),
        maximumDelay: Duration = .seconds(5), capacity: Int = 10_000
    ) {
        self.maxFailures = maxFailures
        self.window = window
        self.delayPerFailure = delayPerFailure
        self.maximumDelay = maximumDelay
        self.capacity = capacity
    }

    /// Starts an attempt, or returns nil when this client may not try now. `now` is any monotonic time,
    /// as a duration since an origin.
    public mutating func begin(_ address: IPAddress, now: Duration) -> Attempt? {
        let client = Self.client(address)
        var times = failures[client] ?? []
        times.removeAll { now - $0 >= window }
        guard times.count < maxFailures else {
            failures[client] = times
            return nil
        }
        times.append(now)
        failures[client] = times
        if failures.count > capacity { forgetStalest() }
        return Attempt(client: client, started: now)
    }

    /// Ends an attempt. A failure stays counted and its reply is held for the returned delay; any other
    /// outcome takes its own attempt back.
    public mutating func finish(_ attempt: Attempt, failed: Bool) -> Duration {
        guard var times = failures[attempt.client] else { return .zero }
        if !failed {
            if let index = times.firstIndex(of: attempt.started) { times.remove(at: index) }
            failures[attempt.client] = times.isEmpty ? nil : times
            return .zero
        }
        return min(delayPerFailure * times.count, maximumDelay)
    }

    /// The unit counted: an IPv4 address, or an IPv6 /64.
    static func client(_ address: IPAddress) -> IPNetwork {
        IPNetwork(containing: address, prefixLength: address.isIPv4 ? 32 : 64)
    }

    private mutating func forgetStalest() {
        let stalest = failures.min { ($0.value.last ?? .zero) < ($1.value.last ?? .zero) }
        if let stalest { failures[stalest.key] = nil }
    }
}
