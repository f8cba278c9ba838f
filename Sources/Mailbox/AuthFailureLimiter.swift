import MailModel

/// Slows down and then stops password guessing, per client address. Pure: time is passed in.
///
/// Each failure from an address in the last `window` makes its next failure reply wait longer
/// (`delayPerFailure` times the count, up to `maximumDelay`); at `maxFailures` the address may not try at
/// all until its oldest failure leaves the window. A success clears the address. At most `capacity`
/// addresses are remembered; the stalest are forgotten first, so a flood of addresses cannot exhaust memory.
public struct AuthFailureLimiter: Sendable {
    public var maxFailures: Int
    public var window: Duration
    public var delayPerFailure: Duration
    public var maximumDelay: Duration
    public var capacity: Int

    /// Failure times per address, oldest first.
    private var failures: [IPAddress: [Duration]] = [:]

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

    /// Whether this address may try now. `now` is any monotonic time, as a duration since an origin.
    public func mayAttempt(_ address: IPAddress, now: Duration) -> Bool {
        (failures[address] ?? []).count { now - $0 < window } < maxFailures
    }

    /// Records a failure; returns how long to hold the failure reply.
    public mutating func recordFailure(_ address: IPAddress, now: Duration) -> Duration {
        var times = failures[address] ?? []
        times.removeAll { now - $0 >= window }
        times.append(now)
        failures[address] = times
        let count = times.count
        if failures.count > capacity { forgetStalest() }
        return min(delayPerFailure * count, maximumDelay)
    }

    public mutating func recordSuccess(_ address: IPAddress) {
        failures[address] = nil
    }

    private mutating func forgetStalest() {
        let stalest = failures.min { ($0.value.last ?? .zero) < ($1.value.last ?? .zero) }
        if let stalest { failures[stalest.key] = nil }
    }
}
