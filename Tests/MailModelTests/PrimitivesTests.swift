import MailModel
import Testing

@Suite struct XTextTests {
    @Test func roundTrips() {
        let text = Array("a+b=c d\u{7f}é".utf8)
        #expect(XText.encode(text) == "a+2Bb+3Dc+20d+7F+C3+A9")
        #expect(XText.decode(XText.encode(text)) == text)
    }

    @Test(arguments: ["a+2", "a+zz", "a=b", "a b", "\u{1}"])
    func refusesInvalid(_ text: String) {
        #expect(XText.decode(text) == nil)
    }

    @Test func acceptsLowerCaseHex() {
        #expect(XText.decode("a+2b") == Array("a+".utf8))
    }
}

@Suite struct IPNetworkTests {
    @Test func matchesIPv4AndIPv6() throws {
        let loopback = try #require(IPNetwork("127.0.0.0/8"))
        #expect(loopback.contains(try #require(IPAddress("127.1.2.3"))))
        #expect(!loopback.contains(try #require(IPAddress("128.0.0.1"))))
        #expect(!loopback.contains(try #require(IPAddress("::1"))))
        let documentation = try #require(IPNetwork("2001:db8::/32"))
        #expect(documentation.contains(try #require(IPAddress("2001:db8:1::5"))))
        #expect(!documentation.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(try #require(IPNetwork("192.0.2.7")).contains(try #require(IPAddress("192.0.2.7"))))
        #expect(try #require(IPNetwork("0.0.0.0/0")).contains(try #require(IPAddress("203.0.113.9"))))
    }

    @Test func mappedIPv4IsIPv4() throws {
        let mapped = try #require(IPAddress("::ffff:127.0.0.1"))
        #expect(mapped.isIPv4)
        #expect(try #require(IPNetwork("127.0.0.0/8")).contains(mapped))
    }

    @Test(arguments: ["10.0.0.1/8", "10.0.0.0/33", "::1/129", "nonsense", "10.0.0.0/", "10.0.0.0/x", "1.2.3.4/8/9"])
    func refusesInvalidNetworks(_ text: String) {
        #expect(IPNetwork(text) == nil)
    }
}

@Suite struct QueueIDTests {
    @Test func isSixteenSafeCharactersSortedByTime() {
        var generator = SystemRandomNumberGenerator()
        let earlier = QueueID.make(microsecondsSince1970: 1_790_000_000_000_000, using: &generator)
        let later = QueueID.make(microsecondsSince1970: 1_790_000_000_000_001, using: &generator)
        #expect(earlier.rawValue.count == 16)
        #expect(earlier < later)
        #expect(QueueID(earlier.rawValue) == earlier)
    }

    @Test(arguments: ["", "short", "0123456789ABCDEFG", "0123456789abcdef", "../../etc/passw", "0123456789ABCDEI"])
    func refusesWhatIsNotAQueueID(_ text: String) {
        #expect(QueueID(text) == nil)
    }
}

@Suite struct SMTPReplyTests {
    @Test func encodesMultilineRepliesWithEnhancedCodes() {
        let reply = SMTPReply(550, EnhancedStatusCode(5, 1, 1), ["first", "second"])
        #expect(reply.encoded == "550-5.1.1 first\r\n550 5.1.1 second\r\n")
        #expect(SMTPReply(354, nil, "go ahead").encoded == "354 go ahead\r\n")
    }

    @Test func controlCharactersCannotInjectLines() {
        let reply = SMTPReply(250, nil, "ok\r\n250 injected")
        #expect(reply.encoded == "250 ok??250 injected\r\n")
    }

    @Test func parsesEnhancedCodes() {
        #expect(EnhancedStatusCode("5.7.1") == EnhancedStatusCode(5, 7, 1))
        #expect(EnhancedStatusCode("3.1.1") == nil)
        #expect(EnhancedStatusCode("5.1") == nil)
    }

    @Test func formatsRFC5322Dates() {
        #expect(RFC5322Date.format(secondsSince1970: 0) == "Thu, 1 Jan 1970 00:00:00 +0000")
        #expect(RFC5322Date.format(secondsSince1970: 1_795_708_800) == "Thu, 26 Nov 2026 16:00:00 +0000")
    }

    @Test func parsesNotifyConditions() {
        #expect(NotifyConditions(parameter: "never")?.isNever == true)
        #expect(NotifyConditions(parameter: "SUCCESS,FAILURE")?.conditions == [.success, .failure])
        #expect(NotifyConditions(parameter: "NEVER,SUCCESS") == nil)
        #expect(NotifyConditions(parameter: "SUCCESS,SUCCESS") == nil)
        #expect(NotifyConditions(parameter: "") == nil)
    }
}
