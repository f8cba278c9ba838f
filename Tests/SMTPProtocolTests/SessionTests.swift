import MailModel
import NIOCore
import ProtocolSupport
import Routing
import SMTPProtocol
import Testing

import struct Foundation.Date

/// Session behaviour that a dialog fixture cannot show: what the driver is asked to do, and replies to the
/// driver's own outcomes.
@Suite struct SessionTests {
    static let tlsClient = SMTPClientConnection(address: IPAddress("127.0.0.1"), port: 1, implicitTLS: true)

    @Test func ehloOffersSTARTTLSBeforeTLSAndAUTHOnlyAfter() {
        var plain = SessionHarness()
        plain.feed("EHLO c\r\n")
        let before = plain.replies.last!.lines
        #expect(before.contains("STARTTLS"))
        #expect(!before.contains { $0.hasPrefix("AUTH") })
        #expect(before.contains("SIZE 52428800"))
        #expect(plain.replies.last!.enhancedCode == nil, "RFC 2034: no enhanced code on the EHLO reply")

        var tls = SessionHarness(client: Self.tlsClient)
        tls.feed("EHLO c\r\n")
        let after = tls.replies.last!.lines
        #expect(!after.contains("STARTTLS"))
        #expect(after.contains("AUTH PLAIN LOGIN"))
    }

    /// Plaintext that arrives after STARTTLS but before the handshake ends (a driver slow to put TLS in
    /// place, a 220 still unwritten) is never read as a command inside TLS (CVE-2011-0411).
    @Test func bytesBetweenSTARTTLSAndTheHandshakeAreDiscarded() {
        var harness = SessionHarness()
        harness.holdTLS = true
        harness.feed("EHLO c\r\nSTARTTLS\r\n")
        #expect(harness.startedTLS && harness.replies.last?.code == 220)
        let repliesBefore = harness.replies.count
        harness.feed("MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\n")
        harness.session.tlsEstablished(version: "TLSv1.3")
        harness.drain()
        #expect(harness.replies.count == repliesBefore, "nothing sent before the handshake was answered")
        #expect(harness.events.contains { "\($0)".contains("before the TLS handshake discarded") })
        harness.feed("EHLO c\r\n")
        #expect(harness.replies.last?.code == 250, "after the handshake the session reads again")
    }

    @Test func authIsNotOfferedWithoutUsers() {
        var configuration = SMTPServerConfiguration(hostname: "mx.test")
        configuration.authAvailable = false
        var harness = SessionHarness(configuration: configuration, client: Self.tlsClient)
        harness.feed("EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        #expect(!harness.replies[1].lines.contains { $0.hasPrefix("AUTH") })
        #expect(harness.replies[2].code == 502)
    }

    @Test func commitFailureIsATemporaryError() {
        var harness = SessionHarness()
        harness.commitSucceeds = false
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        harness.feed("x\r\n.\r\n")
        #expect(harness.replies.last?.code == 451)
        #expect(harness.replies.last?.enhancedCode == EnhancedStatusCode(4, 3, 0))
        harness.feed("MAIL FROM:<a@example.org>\r\n")
        #expect(harness.replies.last?.code == 250, "the session goes on")
    }

    @Test func nothingIsSaidUntilTheCommitFinishes() {
        var harness = SessionHarness()
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        harness.session.receive(ByteBuffer(string: "x\r\n.\r\nNOOP\r\n"), at: harness.now)
        var sawCommit = false
        while let action = harness.session.next() {
            if case .commitMessage = action { sawCommit = true }
            if case .send(let reply) = action { harness.replies.append(reply) }
        }
        #expect(sawCommit)
        #expect(harness.session.phase == .waitingForDriver)
        let repliesBefore = harness.replies.count
        // The pipelined NOOP waits behind the commit.
        let waiting = harness.session.next()
        #expect(waiting == nil)
        harness.session.messageCommitted(queueID: QueueID("0000000000000000")!)
        harness.drain()
        #expect(harness.replies.count == repliesBefore + 2)
        #expect(harness.replies[repliesBefore].lines[0] == "Ok: queued as 0000000000000000")
        #expect(harness.replies[repliesBefore + 1].code == 250)
    }

    @Test func authOutcomesFromTheDriver() {
        for (result, code, closes) in [
            (AuthenticationResult.rejected, 535, false), (.temporaryFailure, 454, false),
        ] {
            var harness = SessionHarness(client: Self.tlsClient)
            harness.authResult = result
            harness.feed("EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
            #expect(harness.replies.last?.code == code)
            #expect(harness.closed == closes)
        }
    }

    @Test func passwordsNeverAppearInDescriptions() {
        var harness = SessionHarness(client: Self.tlsClient)
        harness.feed("EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        let credentials = harness.credentialsSeen[0]
        #expect(credentials.password == "secret")
        #expect(!"\(credentials)".contains("secret"))
        #expect(!String(reflecting: credentials).contains("secret"))
        #expect(!"\(harness.events)".contains("secret"))
    }

    @Test func shutdownClosesIdleSessionsAtOnceAndBusyOnesAfterTheirMessage() {
        var idle = SessionHarness()
        idle.feed("EHLO c\r\n")
        idle.session.shutdownStarted()
        idle.drain()
        #expect(idle.replies.last?.code == 421)
        #expect(idle.closed)

        var busy = SessionHarness()
        busy.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        busy.session.shutdownStarted()
        busy.drain()
        #expect(!busy.closed)
        busy.feed("x\r\n.\r\n")
        #expect(busy.replies.suffix(2).map(\.code) == [250, 421])
        #expect(busy.closed)
    }

    @Test func aSessionStillBusyWhenTheGraceEndsIsToldAndItsMessageDropped() {
        let transaction = "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
        var busy = SessionHarness()
        busy.feed(transaction)
        busy.feed("half a message\r\n")
        busy.session.shutdownStarted()
        busy.drain()
        #expect(!busy.closed)
        busy.session.shutdownGraceExpired()
        busy.drain()
        #expect(busy.currentBody == nil, "the unacknowledged message is dropped")
        #expect(busy.committed.isEmpty)
        #expect(busy.replies.last?.code == 421 && busy.replies.last?.enhancedCode == .init(4, 3, 2))
        #expect(busy.closed)

        // A commit already under way is answered; then the session closes.
        var committing = SessionHarness()
        committing.holdCommits = true
        committing.feed(transaction)
        committing.feed("x\r\n.\r\n")
        committing.session.shutdownStarted()
        committing.session.shutdownGraceExpired()
        committing.drain()
        #expect(!committing.closed)
        committing.session.messageCommitted(queueID: committing.committed[0].0.queueID)
        committing.drain()
        #expect(committing.replies.suffix(2).map(\.code) == [250, 421])
        #expect(committing.closed)
    }

    @Test func noAUTHBeforeTheHandshakeCompletes() {
        var harness = SessionHarness()
        harness.session = SMTPServerSession(
            configuration: .init(hostname: "mx.test"),
            client: SMTPClientConnection(address: IPAddress("127.0.0.1"), port: 1, implicitTLS: true),
            environment: .init(
                policy: RelayNetworksPolicy(), spoolHasRoom: { _ in true },
                makeQueueID: { QueueID("0000000000000000")! }))
        harness.session.start()
        harness.feed("EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        #expect(!harness.replies[1].lines.contains("AUTH PLAIN LOGIN"))
        #expect(harness.replies.last?.code == 538)
        #expect(harness.credentialsSeen.isEmpty)
    }

    @Test func shutdownClosesAnAUTHExchangeAtOnce() {
        var harness = SessionHarness(
            client: SMTPClientConnection(address: IPAddress("127.0.0.1"), port: 1, implicitTLS: true))
        harness.feed("EHLO c\r\nAUTH LOGIN\r\n")
        #expect(harness.replies.last?.code == 334)
        harness.session.shutdownStarted()
        harness.drain()
        #expect(harness.replies.last?.code == 421)
        #expect(harness.closed)
    }

    @Test func shutdownClosesATransactionEndedByRSET() {
        var harness = SessionHarness()
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\n")
        harness.session.shutdownStarted()
        harness.drain()
        #expect(!harness.closed, "the transaction may still finish")
        harness.feed("RSET\r\nMAIL FROM:<a@example.org>\r\n")
        #expect(harness.replies.suffix(2).map(\.code) == [250, 421], "no new transaction starts")
        #expect(harness.closed)
    }

    @Test func timeoutsDoNotApplyWhileTheDriverWorks() {
        var harness = SessionHarness()
        harness.holdCommits = true
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        harness.feed("x\r\n.\r\n")
        #expect(harness.session.phase == .waitingForDriver)
        harness.session.timeoutFired()
        harness.drain()
        #expect(!harness.closed)
        harness.session.messageCommitted(queueID: harness.committed[0].0.queueID)
        harness.drain()
        #expect(harness.replies.last?.code == 250, "the commit's reply still goes out")
    }

    @Test func timeoutInDataDropsTheMessage() {
        var harness = SessionHarness()
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        harness.feed("partial")
        #expect(harness.session.phase == .data)
        #expect(harness.currentBody != nil)
        harness.session.timeoutFired()
        harness.drain()
        #expect(harness.currentBody == nil, "the partial message was aborted")
        #expect(harness.replies.last?.enhancedCode == EnhancedStatusCode(4, 4, 2))
        #expect(harness.closed)
        #expect(harness.committed.isEmpty)
    }

    @Test func refusalsSayWhy() {
        for (refusal, text) in [
            (SMTPServerSession.Refusal.tooManyConnections, "Too many connections"),
            (.tooManyFromClient, "from your address"),
        ] {
            var harness = SessionHarness()
            harness.replies.removeAll()
            harness.session = SMTPServerSession(
                configuration: .init(hostname: "mx.test"), client: SessionHarness.client,
                environment: .init(
                    policy: RelayNetworksPolicy(), spoolHasRoom: { _ in true },
                    makeQueueID: { QueueID("0000000000000000")! }))
            harness.session.refuse(refusal)
            harness.drain()
            #expect(harness.replies.count == 1)
            #expect(harness.replies[0].code == 421)
            #expect(harness.replies[0].lines[0].contains(text))
            #expect(harness.closed)
        }
    }

    @Test func errorCountStartsAgainAfterAnAcceptedMessage() {
        var configuration = SMTPServerConfiguration(hostname: "mx.test")
        configuration.maxErrors = 3
        var harness = SessionHarness(configuration: configuration)
        harness.feed("EHLO c\r\nFROB\r\nFROB\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        harness.feed("x\r\n.\r\n")
        #expect(harness.committed.count == 1)
        harness.feed("FROB\r\nFROB\r\nNOOP\r\n")
        #expect(!harness.closed)
        #expect(harness.replies.last?.code == 250)
    }

    @Test func tooManyRecipientRepliesDoNotEndTheSession() {
        var configuration = SMTPServerConfiguration(hostname: "mx.test")
        configuration.maxRecipients = 1
        configuration.maxErrors = 2
        var harness = SessionHarness(configuration: configuration)
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n")
        for index in 0..<5 { harness.feed("RCPT TO:<x\(index)@example.net>\r\n") }
        #expect(!harness.closed)
        #expect(harness.replies.last?.code == 452)
    }

    @Test func fullSpoolIsATemporaryRefusalAtMail() {
        var harness = SessionHarness(spoolHasRoom: { size in (size ?? 0) < 100 })
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org> SIZE=10\r\nRSET\r\nMAIL FROM:<a@example.org> SIZE=500\r\n")
        #expect(harness.replies.map(\.code) == [220, 250, 250, 250, 452])
    }

    @Test func acceptedMessageCarriesTheEnvelopeFacts() throws {
        var harness = SessionHarness(client: Self.tlsClient)
        harness.feed("EHLO c.example\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        harness.feed("MAIL FROM:<a@example.org> RET=FULL ENVID=x+2By\r\n")
        harness.now = Date(timeIntervalSince1970: 1_790_000_000)
        harness.feed("RCPT TO:<b@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@example.net\r\nDATA\r\n")
        harness.now = Date(timeIntervalSince1970: 1_790_000_042.5)
        harness.feed("Subject: t\r\n\r\nbody\r\n.\r\n")
        let (message, body) = try #require(harness.committed.first)
        // The whole envelope comes from the session: the spool writes it as it is.
        #expect(message.envelope.size == body.count, "our Received header and the content")
        #expect(message.envelope.arrival == harness.now, "when the final dot arrived")
        #expect(message.envelope.receivedBy == "mx.test")
        #expect(message.client.authenticatedUser == "alice")
        #expect(message.client.protocolName == "ESMTPSA")
        #expect(message.client.tlsVersion == "TLSv1.3")
        #expect(message.client.helo == "c.example")
        #expect(message.envelope.parameters.returnContent == .full)
        #expect(message.envelope.parameters.envelopeID == "x+y")
        #expect(message.recipients[0].notify?.conditions == [.failure, .delay])
        #expect(
            message.recipients[0].originalRecipient
                == OriginalRecipient(addressType: "rfc822", address: "b@example.net"))
        #expect(message.contentSize == "Subject: t\r\n\r\nbody\r\n".utf8.count)
        let text = String(decoding: body, as: UTF8.self)
        #expect(
            text.hasPrefix(
                "Received: from c.example ([127.0.0.1])\r\n\t(using TLSv1.3)\r\n\tby mx.test (Relaygate) with ESMTPSA id "
            ))
        let dated = RFC5322Date.format(secondsSince1970: 1_790_000_000)
        #expect(text.contains("\r\n\tfor <b@example.net>; \(dated)\r\nSubject: t\r\n"), "dated when DATA arrived")
    }

    @Test func mailAuthParameterIsBelievedOnlyFromAnAuthenticatedClient() throws {
        var anonymous = SessionHarness()
        anonymous.feed(
            "EHLO c\r\nMAIL FROM:<a@example.org> AUTH=a+40example.org\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        anonymous.feed("x\r\n.\r\n")
        #expect(try #require(anonymous.committed.first).0.envelope.parameters.authorizedSender == "")

        var authenticated = SessionHarness(client: Self.tlsClient)
        authenticated.feed("EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        authenticated.feed("MAIL FROM:<a@example.org> AUTH=a+40example.org\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        authenticated.feed("x\r\n.\r\n")
        #expect(try #require(authenticated.committed.first).0.envelope.parameters.authorizedSender == "a@example.org")
    }

    @Test func anAuthenticatedUserSendsOnlyAsTheUsersFileAllows() {
        var harness = SessionHarness(
            client: Self.tlsClient,
            userMaySend: { user, sender in user == "alice" && sender.domain.name == "example.org" })
        harness.feed("EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        harness.replies = []
        harness.feed("MAIL FROM:<mallory@example.net>\r\n")
        #expect(harness.replies.last?.code == 553)
        #expect(harness.replies.last?.lines == ["<mallory@example.net>: sender address not allowed for user alice"])
        harness.feed("MAIL FROM:<>\r\nRSET\r\nMAIL FROM:<alice@example.org>\r\n")
        #expect(harness.replies.suffix(3).map(\.code) == [250, 250, 250], "the null sender and an allowed one")

        var anonymous = SessionHarness(userMaySend: { _, _ in false })
        anonymous.feed("EHLO c\r\nMAIL FROM:<mallory@example.net>\r\n")
        #expect(anonymous.replies.last?.code == 250, "only authenticated users are checked")
    }

    @Test func receivedHeaderNamesNoRecipientWhenThereAreSeveral() throws {
        var harness = SessionHarness()
        harness.feed(
            "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
        harness.feed("x\r\n.\r\n")
        let text = String(decoding: try #require(harness.committed.first).1, as: UTF8.self)
        #expect(!text.contains("for <"))
        #expect(text.contains("with SMTP id"))
    }

    @Test func ipv6ClientsAppearAsIPv6Literals() throws {
        var harness = SessionHarness(
            client: SMTPClientConnection(address: IPAddress("::1"), port: 1, implicitTLS: false))
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        harness.feed("x\r\n.\r\n")
        let body = try #require(harness.committed.first).1
        #expect(String(decoding: body, as: UTF8.self).hasPrefix("Received: from c ([IPv6:::1])"))
    }
}

/// A policy that forwards every recipient at list.example to two fixed addresses.
private struct ListPolicy: RecipientPolicy {
    func decide(recipient: EmailAddress, for submission: SubmissionContext) -> RecipientDecision {
        guard recipient.domain.key == "list.example" else {
            return .accept([Destination(address: recipient, route: .mx)])
        }
        return .accept(
            ["a@one.example", "b@two.example"].map { target in
                Destination(
                    address: try! EmailAddress(parsing: target), route: .relay("up"), rule: "t.rules:1",
                    sender: .mailbox(try! EmailAddress(parsing: "SRS0=x=JQ=example.org=a@list.example")))
            })
    }
}

@Suite struct SessionDestinationTests {
    @Test func oneRCPTBecomesEveryDestinationWithItsRouteRuleSenderAndORCPT() throws {
        var harness = SessionHarness(policy: ListPolicy())
        harness.feed("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<all@list.example>\r\n")
        harness.feed(
            "RCPT TO:<other@list.example> ORCPT=rfc822;given@list.example\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
        harness.feed("x\r\n.\r\n")
        #expect(harness.replies.map(\.code) == [220, 250, 250, 250, 250, 250, 354, 250])
        let recipients = try #require(harness.committed.first).0.recipients
        // The second RCPT resolves to the same two addresses: one copy each.
        #expect(recipients.map(\.address.description) == ["a@one.example", "b@two.example", "c@example.net"])
        #expect(recipients[0].route == .relay("up"))
        #expect(recipients[0].rule == "t.rules:1")
        #expect(recipients[0].sender?.description == "<SRS0=x=JQ=example.org=a@list.example>")
        #expect(
            recipients[0].originalRecipient == OriginalRecipient(addressType: "rfc822", address: "all@list.example"))
        #expect(recipients[2].originalRecipient == nil, "an address delivered as given needs no ORCPT of ours")
    }
}
