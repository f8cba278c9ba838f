import MailModel

/// Slows password guessing down, per client and per account. Pure: time is passed in.
///
/// Dovecot's auth penalty model: nobody is locked out. Each attempt's reply is held for a penalty that
/// grows with the recent failures of its client and of the account it names: none for the first try, then
/// `delayPerFailure` doubling with each failure (1, 2, 4, 8 s ...), and `maximumDelay` once there were
/// `maxFailures`. The password is still checked, so a stale phone behind an office's NAT, failing every few
/// minutes, slows that office's logins down but never locks the office out; and a guesser gets at most one
/// guess per `maximumDelay` per connection, which the per-client connection limit bounds in turn.
///
/// - **Per client**: an IPv4 address, or an IPv6 /64 (the block one subscriber usually holds, so stepping
///   through the addresses of one network does not reset the count).
/// - **Per account**: the user name, case-insensitively, so guesses at one account spread over many
///   addresses are slowed down too.
///
/// Every attempt counts as a failure from the moment it starts (`begin`), so a client cannot get more
/// guesses in by sending many at once on parallel connections; an attempt that succeeds is taken back
/// (`finish`). The first `parallelAllowance` attempts in flight at once are let off: a mail client opens
/// several connections and logs in on each at the same moment (Thunderbird five, imaptest three), and
/// holding its right password for 1, 2 and 4 s was the price; a guesser gains that many guesses, once. A
/// success takes back only its own attempt, never earlier failures: someone who knows one password could
/// otherwise clear the count between guesses at others. Failures count for `window`. At most
/// `capacity` clients and as many accounts are remembered; the stalest are forgotten first, so a flood of
/// addresses or names cannot exhaust memory.
public struct AuthFailureLimiter: Sendable {
    public var maxFailures: Int
    public var window: Duration
    public var delayPerFailure: Duration
    public var maximumDelay: Duration
    public var capacity: Int
    public var parallelAllowance: Int

    /// Attempt start times, oldest first.
    private var clients: [IPNetwork: [Duration]] = [:]
    private var accounts: [String: [Duration]] = [:]
    /// Attempts begun and not yet finished.
    private var clientsInFlight: [IPNetwork: Int] = [:]
    private var accountsInFlight: [String: Int] = [:]

    /// An attempt under way: hold its reply for `penalty`, then pass it back to `finish`.
    public struct Attempt: Sendable {
        fileprivate let client: IPNetwork?
        fileprivate let account: String
        fileprivate let started: Duration
        /// How long to hold the reply to this attempt, whatever its outcome.
        public let penalty: Duration
    }

    public init(
        maxFailures: Int = 5, window: Duration = .seconds(15 * 60), delayPerFailure: Duration = .seconds(1),
        maximumDelay: Duration = .seconds(15), capacity: Int = 10_000, parallelAllowance: Int = 4
    ) {
        self.parallelAllowance = parallelAllowance
        self.maxFailures = maxFailures
        self.window = window
        self.delayPerFailure = delayPerFailure
        self.maximumDelay = maximumDelay
        self.capacity = capacity
    }

    /// Starts an attempt from `address` (nil when unknown) at `account`. `now` is any monotonic time, as a
    /// duration since an origin.
    public mutating func begin(_ address: IPAddress?, account: String, now: Duration) -> Attempt {
        let client = address.map(IPNetwork.init(clientOf:))
        let name = account.lowercased()
        var clientFailures = client.map { Self.record(now, in: &clients, key: $0, window: window) } ?? 0
        var accountFailures = Self.record(now, in: &accounts, key: name, window: window)
        if let client {
            clientFailures -= min(clientsInFlight[client] ?? 0, parallelAllowance)
            clientsInFlight[client, default: 0] += 1
        }
        accountFailures -= min(accountsInFlight[name] ?? 0, parallelAllowance)
        accountsInFlight[name, default: 0] += 1
        Self.bound(&clients, capacity: capacity)
        Self.bound(&accounts, capacity: capacity)
        return Attempt(
            client: client, account: name, started: now, penalty: penalty(after: max(clientFailures, accountFailures)))
    }

    /// Ends an attempt. A failure stays counted; any other outcome takes its own attempt back.
    public mutating func finish(_ attempt: Attempt, failed: Bool) {
        if let client = attempt.client { Self.landed(client, in: &clientsInFlight) }
        Self.landed(attempt.account, in: &accountsInFlight)
        guard !failed else { return }
        if let client = attempt.client { Self.takeBack(attempt.started, in: &clients, key: client) }
        Self.takeBack(attempt.started, in: &accounts, key: attempt.account)
    }

    /// The hold for an attempt that follows `failures` recent ones.
    func penalty(after failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        guard failures < maxFailures else { return maximumDelay }
        return min(delayPerFailure * (1 << min(failures - 1, 20)), maximumDelay)
    }

    /// Drops times older than the window, adds `now`; returns how many there were before it.
    private static func record<Key: Hashable>(
        _ now: Duration, in table: inout [Key: [Duration]], key: Key, window: Duration
    ) -> Int {
        var times = table[key] ?? []
        times.removeAll { now - $0 >= window }
        let before = times.count
        times.append(now)
        table[key] = times
        return before
    }

    private static func landed<Key: Hashable>(_ key: Key, in table: inout [Key: Int]) {
        guard let count = table[key] else { return }
        table[key] = count > 1 ? count - 1 : nil
    }

    private static func takeBack<Key: Hashable>(_ started: Duration, in table: inout [Key: [Duration]], key: Key) {
        guard var times = table[key] else { return }
        if let index = times.firstIndex(of: started) { times.remove(at: index) }
        table[key] = times.isEmpty ? nil : times
    }

    private static func bound<Key: Hashable>(_ table: inout [Key: [Duration]], capacity: Int) {
        guard table.count > capacity else { return }
        let stalest = table.min { ($0.value.last ?? .zero) < ($1.value.last ?? .zero) }
        if let stalest { table[stalest.key] = nil }
    }
}
