import MailModel
import Mailbox
import Testing

@Suite struct AuthFailureLimiterTests {
    let client = IPAddress("192.0.2.7")!
    let other = IPAddress("192.0.2.8")!

    /// One failed attempt; returns its penalty.
    @discardableResult
    func fail(
        _ limiter: inout AuthFailureLimiter, _ address: IPAddress?, _ account: String = "alice", at seconds: Int64
    )
        -> Duration
    {
        let attempt = limiter.begin(address, account: account, now: .seconds(seconds))
        limiter.finish(attempt, failed: true)
        return attempt.penalty
    }

    func limiter(maxFailures: Int = 5) -> AuthFailureLimiter {
        AuthFailureLimiter(
            maxFailures: maxFailures, window: .seconds(60), delayPerFailure: .seconds(1), maximumDelay: .seconds(15))
    }

    @Test func thePenaltyDoublesThenStaysAtTheMaximum() {
        var limiter = limiter()
        let penalties = (0..<7).map { fail(&limiter, client, at: $0) }
        #expect(penalties == [.zero, .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(15), .seconds(15)])
        #expect(limiter.begin(other, account: "bob", now: .seconds(7)).penalty == .zero, "others are not affected")
    }

    /// Dovecot's model: a client that failed often still gets its right password checked, after the
    /// penalty; it is never refused outright.
    @Test func nobodyIsLockedOut() {
        var limiter = limiter(maxFailures: 3)
        for second in 0..<20 { fail(&limiter, client, "phone", at: Int64(second)) }
        let right = limiter.begin(client, account: "office", now: .seconds(21))
        #expect(right.penalty == .seconds(15))
        limiter.finish(right, failed: false)
    }

    @Test func failuresOldEnoughNoLongerCount() {
        var limiter = limiter()
        fail(&limiter, client, at: 0)
        fail(&limiter, client, at: 1)
        #expect(
            limiter.begin(client, account: "alice", now: .seconds(60)).penalty == .seconds(1), "only the one at 1 s")
    }

    /// Guesses at one account from many addresses are slowed down by the account's own count.
    @Test func failuresAtAnAccountCountWhateverTheAddress() {
        var limiter = limiter()
        for index in 0..<4 { fail(&limiter, IPAddress("198.51.100.\(index)")!, "Alice", at: 0) }
        #expect(limiter.begin(IPAddress("203.0.113.9")!, account: "alice", now: .seconds(1)).penalty == .seconds(8))
        #expect(limiter.begin(IPAddress("203.0.113.10")!, account: "bob", now: .seconds(1)).penalty == .zero)
    }

    /// Guesses sent at once on parallel connections count before they finish, but the first four are let
    /// off: a mail client logs in on several connections at once (imaptest saw 1 s and 2 s holds on right
    /// passwords).
    @Test func parallelAttemptsCountBeforeTheyFinishAfterTheFirstFew() {
        var limiter = limiter()
        let started = (0..<10).map { _ in limiter.begin(client, account: "alice", now: .zero) }
        #expect(started.prefix(5).allSatisfy { $0.penalty == .zero }, "\(started.map(\.penalty))")
        #expect(started[5].penalty == .seconds(1))
        #expect(started.last?.penalty == .seconds(15), "guesses sent at once count too")
        for attempt in started { limiter.finish(attempt, failed: false) }
        #expect(limiter.begin(client, account: "alice", now: .seconds(1)).penalty == .zero, "all taken back")
    }

    @Test func successTakesBackOnlyItsOwnAttempt() {
        var limiter = limiter()
        fail(&limiter, client, at: 0)
        fail(&limiter, client, at: 1)
        let good = limiter.begin(client, account: "alice", now: .seconds(2))
        #expect(good.penalty == .seconds(2))
        limiter.finish(good, failed: false)
        // The earlier failures still count: two of them.
        #expect(limiter.begin(client, account: "other", now: .seconds(3)).penalty == .seconds(2))
    }

    @Test func ipv6ClientsAreCountedPerSlash64() {
        var limiter = limiter()
        fail(&limiter, IPAddress("2001:db8:1:2::1")!, "a", at: 0)
        fail(&limiter, IPAddress("2001:db8:1:2::ffff:1")!, "b", at: 0)
        #expect(limiter.begin(IPAddress("2001:db8:1:2:abcd::9")!, account: "c", now: .zero).penalty == .seconds(2))
        #expect(
            limiter.begin(IPAddress("2001:db8:1:3::1")!, account: "d", now: .zero).penalty == .zero,
            "the next /64 is someone else")
    }

    @Test func memoryIsBounded() {
        var limiter = AuthFailureLimiter(maxFailures: 1, capacity: 10)
        for index in 0..<100 {
            fail(&limiter, IPAddress("10.0.0.\(index)")!, "user\(index)", at: Int64(index))
        }
        // The most recent clients and accounts are remembered; the oldest were forgotten.
        #expect(limiter.begin(IPAddress("10.0.0.99")!, account: "new", now: .seconds(100)).penalty > .zero)
        #expect(limiter.begin(IPAddress("10.0.0.0")!, account: "user0", now: .seconds(100)).penalty == .zero)
    }
}
