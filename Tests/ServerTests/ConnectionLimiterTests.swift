import MailModel
import Testing

@testable import Server

@Suite struct ConnectionLimiterTests {
    @Test func anIPv6Slash64IsOneClient() {
        let limiter = ConnectionLimiter(maxConnections: 100, maxPerClient: 2)
        #expect(limiter.admit(IPAddress("2001:db8:1:2::1")) == .admitted)
        #expect(limiter.admit(IPAddress("2001:db8:1:2::2")) == .admitted)
        #expect(limiter.admit(IPAddress("2001:db8:1:2:ffff:ffff:ffff:ffff")) == .tooManyFromClient)
        #expect(limiter.admit(IPAddress("2001:db8:1:3::1")) == .admitted, "the next /64 is someone else")
        limiter.release(IPAddress("2001:db8:1:2::1"))
        #expect(limiter.admit(IPAddress("2001:db8:1:2::abcd")) == .admitted, "a place freed anywhere in the /64")
    }

    @Test func anIPv4AddressIsOneClientAndTheTotalIsKept() {
        let limiter = ConnectionLimiter(maxConnections: 3, maxPerClient: 2)
        #expect(limiter.admit(IPAddress("192.0.2.1")) == .admitted)
        #expect(limiter.admit(IPAddress("192.0.2.1")) == .admitted)
        #expect(limiter.admit(IPAddress("192.0.2.1")) == .tooManyFromClient)
        #expect(limiter.admit(IPAddress("192.0.2.2")) == .admitted)
        #expect(limiter.admit(IPAddress("192.0.2.3")) == .tooManyConnections)
        #expect(limiter.openConnections == 3)
    }
}
