import MailModel
import Mailbox
import Testing

@Suite struct AuthFailureLimiterTests {
    let client = IPAddress("192.0.2.7")!
    let other = IPAddress("192.0.2.8")!

    /// Runs one attempt to its end; nil when the attempt was not allowed.
    func fail(_ limiter: inout AuthFailureLimiter, _ address: IPAddress, at seconds: Int64) -> Duration? {
        limiter.begin(address, now: .seconds(seconds)).map { limiter.finish($0, failed: true) }
    }

    @Test func delaysGrowThenAttemptsStop() {
        var limiter = AuthFailureLimiter(
            maxFailures: 3, window: .seconds(60), delayPerFailure: .seconds(1), maximumDelay: .seconds(2))
        #expect(fail(&limiter, client, at: 0) == .seconds(1))
        #expect(fail(&limiter, client, at: 1) == .seconds(2))
        #expect(fail(&limiter, client, at: 2) == .seconds(2))
        #expect(limiter.begin(client, now: .seconds(3)) == nil)
        #expect(limiter.begin(other, now: .seconds(3)) != nil, "other addresses are not affected")
        // The first failure leaves the window at 60 s.
        #expect(limiter.begin(client, now: .seconds(59)) == nil)
        #expect(limiter.begin(client, now: .seconds(60)) != nil)
    }

    @Test func parallelAttemptsCountBeforeTheyFinish() {
        var limiter = AuthFailureLimiter(maxFailures: 3)
        let started = (0..<10).compactMap { _ in limiter.begin(client, now: .zero) }
        #expect(started.count == 3, "guesses sent at once on parallel connections are limited too")
    }

    @Test func successTakesBackOnlyItsOwnAttempt() {
        var limiter = AuthFailureLimiter(maxFailures: 3)
        _ = fail(&limiter, client, at: 0)
        _ = fail(&limiter, client, at: 1)
        let good = limiter.begin(client, now: .seconds(2))!
        #expect(limiter.finish(good, failed: false) == .zero)
        // One more failure is allowed, not three: the earlier failures still count.
        #expect(fail(&limiter, client, at: 3) != nil)
        #expect(limiter.begin(client, now: .seconds(4)) == nil)
    }

    @Test func ipv6ClientsAreCountedPerSlash64() {
        var limiter = AuthFailureLimiter(maxFailures: 2)
        _ = fail(&limiter, IPAddress("2001:db8:1:2::1")!, at: 0)
        _ = fail(&limiter, IPAddress("2001:db8:1:2::ffff:1")!, at: 0)
        #expect(limiter.begin(IPAddress("2001:db8:1:2:abcd::9")!, now: .zero) == nil)
        #expect(limiter.begin(IPAddress("2001:db8:1:3::1")!, now: .zero) != nil, "the next /64 is someone else")
    }

    @Test func memoryIsBounded() {
        var limiter = AuthFailureLimiter(maxFailures: 1, capacity: 10)
        for index in 0..<100 {
            _ = fail(&limiter, IPAddress("10.0.0.\(index)")!, at: Int64(index))
        }
        // The most recent addresses are remembered; the oldest were forgotten.
        #expect(limiter.begin(IPAddress("10.0.0.99")!, now: .seconds(100)) == nil)
        #expect(limiter.begin(IPAddress("10.0.0.0")!, now: .seconds(100)) != nil)
    }
}
