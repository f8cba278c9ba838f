/// When to try a message again, and when to give up (DESIGN.md: the retry schedule). Pure: the caller
/// passes the time and the random source.
///
/// The first retry comes about `firstRetry` after the first attempt, each later one waits twice as long,
/// up to `maximumInterval`; every wait is stretched or shrunk at random by up to `jitter` so that messages
/// deferred together (a restart, an outage) do not all come back at once. A recipient still failing
/// `lifetime` after the message arrived fails for good.
public struct RetryPolicy: Sendable, Equatable {
    public var firstRetry: Duration = .seconds(300)
    public var maximumInterval: Duration = .seconds(3600)
    public var lifetime: Duration = .seconds(5 * 86400)
    /// How long mail may wait before its sender is told it is delayed (RFC 3464 "delayed"), once.
    public var delayWarning: Duration = .seconds(4 * 3600)
    /// Fraction of each wait by which it may move, either way.
    public var jitter = 0.1

    public init() {}

    /// The wait after the `attempts`-th attempt failed (1 for the first).
    public func interval(afterAttempt attempts: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let doublings = min(max(attempts - 1, 0), 30)
        var seconds = Double(firstRetry.components.seconds) * Double(1 << doublings)
        seconds = min(seconds, Double(maximumInterval.components.seconds))
        let factor = 1 + Double.random(in: -jitter...jitter, using: &generator)
        return .seconds(max(1, seconds * factor))
    }

    /// Whether a message that arrived at `arrival` has been queued too long, at `now` (both seconds since 1970).
    public func hasExpired(arrival: Double, now: Double) -> Bool {
        now - arrival >= Double(lifetime.components.seconds)
    }

    public func needsDelayWarning(arrival: Double, now: Double) -> Bool {
        now - arrival >= Double(delayWarning.components.seconds)
    }
}
