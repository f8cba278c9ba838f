import Foundation
import MailModel
import NIOCore
import SMTPProtocol
import Testing

@testable import Delivery

/// A random source that always gives the middle of the range, so jitter is zero and schedules exact.
struct MiddleGenerator: RandomNumberGenerator {
    mutating func next() -> UInt64 { UInt64.max / 2 }
}

func sampleEnvelope(_ recipients: [Recipient], arrival: Double = 1_000_000, sender: ReversePath? = nil) -> Envelope {
    Envelope(
        queueID: QueueID("1K16561WFT637P12")!,
        sender: sender ?? .mailbox(try! EmailAddress(parsing: "alice@example.org")), recipients: recipients,
        parameters: MailParameters(envelopeID: "env-1"), arrival: Date(timeIntervalSince1970: arrival), size: 100,
        has8BitContent: false,
        client: ClientFacts(
            address: "192.0.2.1", port: 1, helo: "c", protocolName: "ESMTP", tlsVersion: nil, authenticatedUser: nil),
        receivedBy: "mx.test")
}

func recipient(_ address: String, route: Route? = nil, sender: String? = nil, notify: String? = nil) -> Recipient {
    Recipient(
        address: try! EmailAddress(parsing: address), originalRecipient: nil,
        notify: notify.flatMap(NotifyConditions.init(parameter:)), route: route,
        sender: sender.map { .mailbox(try! EmailAddress(parsing: $0)) })
}

@Suite struct DeliveryPlanTests {
    @Test func recipientsAreGroupedByNextHopAndSender() {
        var envelope = sampleEnvelope([
            recipient("a@gmail.com"), recipient("b@gmail.com"), recipient("c@GMAIL.com", sender: "SRS0=x=JQ=e=a@f.example"),
            recipient("d@other.example"), recipient("e@x.example", route: .relay("up")),
            recipient("f@y.example", route: .relay("up")), recipient("g@gmail.com"),
        ])
        envelope.recipients[6].status = .delivered
        let jobs = DeliveryPlan.jobs(for: envelope)
        #expect(jobs.map(\.nextHop) == [.mx(domain: "gmail.com"), .mx(domain: "gmail.com"), .mx(domain: "other.example"), .relay("up")])
        #expect(jobs.map(\.recipients) == [[0, 1], [2], [3], [4, 5]])
        #expect(jobs[1].sender.description == "<SRS0=x=JQ=e=a@f.example>")
    }
}

@Suite struct RetryScheduleTests {
    let policy = RetryPolicy()

    @Test func waitsDoubleFromFiveMinutesUpToAnHour() {
        var generator = MiddleGenerator()
        let waits = (1...8).map { policy.interval(afterAttempt: $0, using: &generator).components.seconds }
        #expect(waits == [300, 600, 1200, 2400, 3600, 3600, 3600, 3600])
    }

    @Test func jitterStaysWithinTenPercent() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let wait = policy.interval(afterAttempt: 1, using: &generator).components.seconds
            #expect((270...330).contains(wait))
        }
    }

    func temporary(_ code: Int = 450) -> SMTPClientSession.RecipientResult {
        .failed(.init(stage: .rcpt, reply: SMTPReply(code, nil, "busy"), detail: "", isPermanent: code >= 500))
    }

    @Test func temporaryFailuresWaitThenExpireAfterTheLifetime() {
        var envelope = sampleEnvelope([recipient("a@x.example"), recipient("b@x.example")])
        var generator = MiddleGenerator()
        let start = 1_000_000.0
        var outcome = AttemptOutcome.apply(
            [0: temporary(), 1: .delivered(SMTPReply(250, nil, "ok"))], to: &envelope, now: start, policy: policy,
            using: &generator)
        #expect(outcome.delivered == [1] && outcome.deferred == [0] && outcome.failed.isEmpty)
        #expect(envelope.nextAttempt == Date(timeIntervalSince1970: start + 300))
        #expect(envelope.recipients[0].lastError == "RCPT: 450 busy")

        // Four hours in: still pending, and the sender is told once.
        outcome = AttemptOutcome.apply([0: temporary()], to: &envelope, now: start + 4 * 3600, policy: policy, using: &generator)
        #expect(outcome.delayed == [0] && envelope.delayWarned)
        outcome = AttemptOutcome.apply([0: temporary()], to: &envelope, now: start + 5 * 3600, policy: policy, using: &generator)
        #expect(outcome.delayed.isEmpty, "one delay warning only")

        // Five days in: it fails for good, saying why.
        outcome = AttemptOutcome.apply([0: temporary()], to: &envelope, now: start + 5 * 86400, policy: policy, using: &generator)
        #expect(outcome.failed.map(\.index) == [0] && outcome.isFinished)
        #expect(envelope.recipients[0].status == .failed)
        #expect(outcome.failed[0].failure.detail.contains("gave up after 5 days"))
    }

    @Test func permanentFailuresAreFinalAtOnce() {
        var envelope = sampleEnvelope([recipient("a@x.example")])
        var generator = MiddleGenerator()
        let outcome = AttemptOutcome.apply([0: temporary(550)], to: &envelope, now: 1_000_000, policy: policy, using: &generator)
        #expect(outcome.failed.map(\.index) == [0] && outcome.isFinished)
    }

    @Test func delayWarningsHonourNOTIFY() {
        var envelope = sampleEnvelope([recipient("a@x.example", notify: "FAILURE"), recipient("b@x.example", notify: "DELAY")])
        var generator = MiddleGenerator()
        let outcome = AttemptOutcome.apply(
            [0: temporary(), 1: temporary()], to: &envelope, now: 1_000_000 + 5 * 3600, policy: policy, using: &generator)
        #expect(outcome.delayed == [1])
    }
}

@Suite struct DSNTests {
    @Test func successIsReportedOnlyWhenAskedFor() {
        let envelope = sampleEnvelope([recipient("a@x.example"), recipient("b@x.example", notify: "SUCCESS")])
        #expect(DeliveryStatusNotification.recipients([0, 1], of: envelope, for: .relayed) == [1])
        let dsn = DeliveryStatusNotification(
            kind: .delivered, reportingHost: "mx.test", original: envelope,
            entries: [.init(recipient: envelope.recipients[1], failure: nil)], now: 1_000_100)
        let text = String(decoding: dsn.render(originalContent: [], boundaryToken: "B"), as: UTF8.self)
        #expect(text.contains("Action: delivered\r\nStatus: 2.0.0"))
    }

    /// A next hop's long or hostile reply makes a Diagnostic-Code line that is safe text and shorter than
    /// RFC 5322's 998 octets.
    @Test func aHostileReplyMakesASafeBoundedDiagnosticCode() {
        let envelope = sampleEnvelope([recipient("a@x.example")])
        let reply = SMTPReply(550, EnhancedStatusCode(5, 1, 1), ["\u{1B}[2J" + String(repeating: "y", count: 990), "second line"])
        let failure = SMTPClientSession.Failure(stage: .rcpt, reply: reply, detail: "", isPermanent: true)
        let dsn = DeliveryStatusNotification(
            kind: .failed, reportingHost: "mx.test", original: envelope,
            entries: [.init(recipient: envelope.recipients[0], failure: failure)], now: 1_000_100)
        let text = String(decoding: dsn.render(originalContent: [], boundaryToken: "B"), as: UTF8.self)
        let line = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Diagnostic-Code:") } ?? ""
        #expect(line.hasPrefix("Diagnostic-Code: smtp; 550 5.1.1 ?[2Jyyy"))
        #expect(line.utf8.count < 998)
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B })
    }

    @Test func owedOnlyToARealSenderAndAsNOTIFYAllows() {
        let envelope = sampleEnvelope([recipient("a@x.example"), recipient("b@x.example", notify: "NEVER"), recipient("c@x.example", notify: "SUCCESS")])
        #expect(DeliveryStatusNotification.recipients([0, 1, 2], of: envelope, for: .failed) == [0])
        let bounce = sampleEnvelope([recipient("a@x.example")], sender: .null)
        #expect(DeliveryStatusNotification.recipients([0], of: bounce, for: .failed).isEmpty)
    }

    @Test func rendersAMultipartReportWithTheOriginalHeaders() {
        var envelope = sampleEnvelope([recipient("a@x.example")])
        envelope.recipients[0].originalRecipient = OriginalRecipient(addressType: "rfc822", address: "info@shop.example")
        let failure = SMTPClientSession.Failure(
            stage: .rcpt, reply: SMTPReply(550, EnhancedStatusCode(5, 1, 1), "no such user"), detail: "", isPermanent: true)
        let dsn = DeliveryStatusNotification(
            kind: .failed, reportingHost: "mx.test", original: envelope,
            entries: [.init(recipient: envelope.recipients[0], failure: failure)], now: 1_000_100)
        let text = String(decoding: dsn.render(originalContent: Array("Subject: hello\r\nFrom: a\r\n\r\nsecret body\r\n".utf8), boundaryToken: "B1"), as: UTF8.self)
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B1/mx.test\""))
        #expect(text.contains("Final-Recipient: rfc822; a@x.example\r\nOriginal-Recipient: rfc822; info@shop.example\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user"))
        #expect(text.contains("Original-Envelope-Id: env-1"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\nFrom: a\r\n"))
        #expect(!text.contains("secret body"), "headers only unless RET=FULL")
        #expect(text.hasSuffix("--B1/mx.test--\r\n"))
        #expect(!text.utf8.enumerated().contains { index, byte in
            byte == 10 && (index == 0 || Array(text.utf8)[index - 1] != 13)
        }, "CRLF line ends only")
    }
}

@Suite struct AddressFamilyTests {
    let v4a = try! SocketAddress(ipAddress: "192.0.2.1", port: 25)
    let v6a = try! SocketAddress(ipAddress: "2001:db8::1", port: 25)
    let v4b = try! SocketAddress(ipAddress: "192.0.2.2", port: 25)

    @Test func policiesFilterAndOrder() {
        let system = [v6a, v4a, v4b]
        #expect(AddressFamilyPolicy.any.order(system).map(\.description) == system.map(\.description))
        #expect(AddressFamilyPolicy.ipv4.order(system).map(\.description) == [v4a, v4b].map(\.description))
        #expect(AddressFamilyPolicy.ipv6.order(system).map(\.description) == [v6a].map(\.description))
        #expect(AddressFamilyPolicy.preferIPv4.order(system).map(\.description) == [v4a, v4b, v6a].map(\.description))
    }

    @Test func literalsResolveToThemselves() {
        #expect(AddressFamilyPolicy.resolve("127.0.0.1", port: 2525) == .addresses([try! SocketAddress(ipAddress: "127.0.0.1", port: 2525)]))
    }
}

@Suite struct DeliveryLogTests {
    @Test func delaysAreLoggedInTenthsOfASecond() {
        #expect(DeliveryAgent.tenths(0) == "0.0")
        #expect(DeliveryAgent.tenths(0.04) == "0.0")
        #expect(DeliveryAgent.tenths(0.05) == "0.1")
        #expect(DeliveryAgent.tenths(12.34) == "12.3")
        #expect(DeliveryAgent.tenths(3599.96) == "3600.0")
    }

    @Test func connectionFailuresReadAsAnOperatorWouldWriteThem() throws {
        let v4 = try SocketAddress(ipAddress: "192.0.2.7", port: 25)
        let v6 = try SocketAddress(ipAddress: "2001:db8::7", port: 2525)
        #expect(
            SMTPTransport.connectFailure(v4, IOError(errnoCode: ECONNREFUSED, reason: "connect"))
                == "192.0.2.7:25: Connection refused")
        #expect(
            SMTPTransport.connectFailure(v6, ChannelError.connectTimeout(.seconds(30)))
                == "[2001:db8::7]:2525: no answer to the connection attempt (timed out)")
    }
}
