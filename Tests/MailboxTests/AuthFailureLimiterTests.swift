import MailModel
import Mailbox
import Testing

@Suite struct AuthFailureLimiterTests {
    let client = IPAddress("192.0.2.7")!
    let other = IPAddress("192.0.2.8")!

    @Test func delaysGrowThenAttemptsStop() {
        var limiter = AuthFailureLimiter(
            maxFailures: 3, window: .seconds(60), delayPerFailure: .seconds(1), maximumDelay: .seconds(2))
        #expect(limiter.mayAttempt(client, now: .seconds(0)))
        #expect(limiter.recordFailure(client, now: .seconds(0)) == .seconds(1))
        #expect(limiter.recordFailure(client, now: .seconds(1)) == .seconds(2))
        #expect(limiter.mayAttempt(client, now: .seconds(2)))
        #expect(limiter.recordFailure(client, now: .seconds(2)) == .seconds(2))
        #expect(!limiter.mayAttempt(client, now: .seconds(3)))
        #expect(limiter.mayAttempt(other, now: .seconds(3)), "other addresses are not affected")
        // The first failure leaves the window at 60 s.
        #expect(!limiter.mayAttempt(client, now: .seconds(59)))
        #expect(limiter.mayAttempt(client, now: .seconds(60)))
    }

    @Test func successClears() {
        var limiter = AuthFailureLimiter(maxFailures: 2)
        _ = limiter.recordFailure(client, now: .zero)
        limiter.recordSuccess(client)
        _ = limiter.recordFailure(client, now: .zero)
        #expect(limiter.mayAttempt(client, now: .zero))
    }

    @Test func memoryIsBounded() {
        var limiter = AuthFailureLimiter(maxFailures: 1, capacity: 10)
        for index in 0..<100 {
            _ = limiter.recordFailure(IPAddress("10.0.0.\(index)")!, now: .seconds(Int64(index)))
        }
        // The most recent addresses are remembered; the oldest were forgotten.
        #expect(!limiter.mayAttempt(IPAddress("10.0.0.99")!, now: .seconds(100)))
        #expect(limiter.mayAttempt(IPAddress("10.0.0.0")!, now: .seconds(100)))
    }
}
