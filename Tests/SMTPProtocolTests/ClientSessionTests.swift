import MailModel
import NIOCore
import Testing

@testable import SMTPProtocol

/// The client state machine, driven by scripted server replies.
@Suite struct ClientSessionTests {
    typealias Session = SMTPClientSession

    struct Harness {
        var session: Session
        var sent: [String] = []
        var actions: [Session.Action] = []

        init(_ configuration: Session.Configuration = .init(heloName: "relay.test", tls: .never)) {
            session = Session(configuration: configuration)
        }

        /// Feeds a reply written as on the wire (`250-a\r\n250 b`), then collects the actions.
        mutating func reply(_ text: String) {
            var buffer = ByteBuffer(string: text.hasSuffix("\r\n") ? text : text + "\r\n")
            var parser = SMTPReplyParser()
            while let reply = try! parser.next(from: &buffer) { session.receive(reply) }
            drain()
        }

        mutating func drain() {
            while let action = session.next() {
                if case .send(let text) = action { sent.append(text) } else { actions.append(action) }
            }
        }

        var results: [Session.RecipientResult]? {
            for case .messageFinished(let results) in actions.reversed() { return results }
            return nil
        }
    }

    static func message(_ recipients: [String] = ["a@one.example", "b@two.example"], eightBit: Bool = false) -> Session.Message {
        Session.Message(
            sender: .mailbox(try! EmailAddress(parsing: "sender@example.org")),
            recipients: recipients.map {
                Recipient(address: try! EmailAddress(parsing: $0), originalRecipient: nil, notify: nil)
            },
            parameters: MailParameters(envelopeID: "id 1"), size: 1234, has8BitContent: eightBit)
    }

    static let fullEHLO = "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES"

    @Test func pipelinedTransactionWithOneRecipientRefused() {
        var h = Harness()
        h.reply("220 mx.example ESMTP")
        #expect(h.sent == ["EHLO relay.test\r\n"])
        h.reply(Self.fullEHLO)
        h.session.send(Self.message())
        h.drain()
        #expect(
            h.sent.last
                == "MAIL FROM:<sender@example.org> SIZE=1234 ENVID=id+201\r\nRCPT TO:<a@one.example>\r\nRCPT TO:<b@two.example>\r\nDATA\r\n"
        )
        h.reply("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go ahead")
        #expect(h.actions == [.sendContent])
        h.reply("250 2.0.0 queued as X")
        guard let results = h.results else { return #expect(Bool(false), "no result") }
        #expect(results[0] == .delivered(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "queued as X")))
        guard case .failed(let failure) = results[1] else { return #expect(Bool(false)) }
        #expect(failure.stage == .rcpt && failure.isPermanent && failure.reply?.code == 550)
        h.session.finish()
        h.drain()
        #expect(h.sent.last == "QUIT\r\n")
        h.reply("221 bye")
        #expect(h.actions.last == .close)
    }

    @Test func withoutPipeliningCommandsGoOneByOneAndNoDATAWhenAllRCPTsFail() {
        var h = Harness()
        h.reply("220 mx")
        h.reply("250-mx\r\n250 SIZE 100")
        h.session.send(Self.message())
        h.drain()
        #expect(h.sent.last == "MAIL FROM:<sender@example.org> SIZE=1234\r\n", "no DSN parameters to a peer without DSN")
        h.reply("250 ok")
        #expect(h.sent.last == "RCPT TO:<a@one.example>\r\n")
        h.reply("450 4.2.0 busy")
        #expect(h.sent.last == "RCPT TO:<b@two.example>\r\n")
        h.reply("550 5.1.1 unknown")
        #expect(!h.sent.contains("DATA\r\n"))
        guard let results = h.results, case .failed(let first) = results[0], case .failed(let second) = results[1] else {
            return #expect(Bool(false))
        }
        #expect(!first.isPermanent && second.isPermanent)
    }

    @Test func heloWhenEHLOIsNotKnown() {
        var h = Harness()
        h.reply("220 old.example")
        h.reply("502 5.5.1 command not implemented")
        #expect(h.sent.last == "HELO relay.test\r\n")
        h.reply("250 old.example")
        h.session.send(Self.message(["a@one.example"]))
        h.drain()
        #expect(h.sent.last == "MAIL FROM:<sender@example.org>\r\n")
    }

    @Test func opportunisticSTARTTLSThenAUTHPLAIN() {
        var h = Harness(.init(heloName: "relay.test", tls: .opportunistic, username: "me", password: "pw"))
        h.reply("220 mx")
        h.reply("250-mx\r\n250-STARTTLS\r\n250 AUTH LOGIN")
        #expect(h.sent.last == "STARTTLS\r\n")
        h.reply("220 2.0.0 go")
        #expect(h.actions == [.startTLS])
        h.session.tlsEstablished()
        h.drain()
        #expect(h.sent.last == "EHLO relay.test\r\n", "EHLO again inside TLS")
        h.reply("250-mx\r\n250 AUTH PLAIN LOGIN")
        #expect(h.sent.last == "AUTH PLAIN AG1lAHB3\r\n")
        h.reply("235 2.7.0 ok")
        h.session.send(Self.message(["a@one.example"]))
        h.drain()
        #expect(h.sent.last?.hasPrefix("MAIL FROM:") == true)
    }

    @Test func authLoginAndItsFailureIsTemporary() {
        var h = Harness(.init(heloName: "relay.test", tls: .implicit, username: "me", password: "pw"))
        h.reply("220 mx")
        h.reply("250-mx\r\n250 AUTH LOGIN")
        #expect(h.sent.last == "AUTH LOGIN\r\n")
        h.reply("334 VXNlcm5hbWU6")
        #expect(h.sent.last == "bWU=\r\n")
        h.reply("334 UGFzc3dvcmQ6")
        #expect(h.sent.last == "cHc=\r\n")
        h.reply("535 5.7.8 bad credentials")
        guard case .connectionFailed(let failure)? = h.actions.first else { return #expect(Bool(false)) }
        #expect(failure.stage == .auth && !failure.isPermanent)
    }

    @Test func requiredTLSThatIsNotOfferedFails() {
        var h = Harness(.init(heloName: "relay.test", tls: .required))
        h.reply("220 mx")
        h.reply("250-mx\r\n250 PIPELINING")
        guard case .connectionFailed(let failure)? = h.actions.first else { return #expect(Bool(false)) }
        #expect(failure.stage == .tls && !failure.isPermanent)
        #expect(h.sent == ["EHLO relay.test\r\n"], "nothing else is said in plaintext")
    }

    @Test func eightBitContentIsNeverSentRawToAPeerWithout8BITMIME() {
        var h = Harness()
        h.reply("220 mx")
        h.reply("250-mx\r\n250 PIPELINING")
        h.session.send(Self.message(["a@one.example"], eightBit: true))
        h.drain()
        #expect(!h.sent.contains { $0.hasPrefix("MAIL") })
        guard let results = h.results, case .failed(let failure) = results[0] else { return #expect(Bool(false)) }
        #expect(failure.isPermanent && failure.detail.contains("8BITMIME"))
    }

    @Test func twoMessagesOnOneConnectionWithRSETBetween() {
        var h = Harness()
        h.reply("220 mx")
        h.reply(Self.fullEHLO)
        h.session.send(Self.message(["a@one.example"]))
        h.session.send(Self.message(["b@two.example"]))
        h.drain()
        h.reply("250 ok\r\n250 ok\r\n354 go")
        h.reply("250 done")
        #expect(h.sent.last == "RSET\r\n")
        h.reply("250 reset")
        #expect(h.sent.last?.hasPrefix("MAIL FROM:") == true)
        #expect(h.sent.last?.contains("RCPT TO:<b@two.example>") == true)
    }

    @Test func aConnectionLostDuringContentFailsTheMessageForNow() {
        var h = Harness()
        h.reply("220 mx")
        h.reply(Self.fullEHLO)
        h.session.send(Self.message(["a@one.example"]))
        h.drain()
        h.reply("250 ok\r\n250 ok\r\n354 go")
        #expect(h.session.awaitsFinalReply)
        h.session.connectionLost("timeout")
        h.drain()
        guard let results = h.results, case .failed(let failure) = results[0] else { return #expect(Bool(false)) }
        #expect(failure.stage == .data && !failure.isPermanent)
        #expect(h.actions.contains { if case .connectionFailed = $0 { true } else { false } })
    }

    @Test func aTLSCloseWithoutCloseNotifyAfterQUITIsNoFailure() {
        var h = Harness(.init(heloName: "relay.test", tls: .implicit))
        h.reply("220 mx")
        h.reply("250 mx")
        h.session.finish()
        h.drain()
        h.reply("221 bye")
        h.session.tlsFailed("uncleanShutdown")
        h.drain()
        #expect(!h.actions.contains { if case .connectionFailed = $0 { true } else { false } })
    }

    @Test func aBadGreetingFailsTheConnection() {
        var h = Harness()
        h.reply("554 5.7.1 go away")
        guard case .connectionFailed(let failure)? = h.actions.first else { return #expect(Bool(false)) }
        #expect(failure.stage == .greeting && failure.reply?.code == 554)
    }
}

@Suite struct ReplyParserTests {
    func parse(_ text: String) throws -> [SMTPReply] {
        var buffer = ByteBuffer(string: text)
        var parser = SMTPReplyParser()
        var replies: [SMTPReply] = []
        while let reply = try parser.next(from: &buffer) { replies.append(reply) }
        return replies
    }

    @Test func multiLineWithEnhancedCodes() throws {
        let replies = try parse("250-2.0.0 first\r\n250 2.0.0 last\r\n354 go\r\n")
        #expect(replies.count == 2)
        #expect(replies[0].lines == ["first", "last"] && replies[0].enhancedCode == EnhancedStatusCode(2, 0, 0))
        #expect(replies[1].code == 354 && replies[1].enhancedCode == nil)
    }

    @Test(arguments: ["25 short\r\n", "abc def\r\n", "250-a\r\n251 b\r\n", "199 x\r\n", "250xbad\r\n"])
    func malformedRepliesAreErrors(_ text: String) {
        #expect(throws: SMTPReplyParser.ParseError.self) { try parse(text) }
    }

    @Test func anIncompleteReplyWaitsForMore() throws {
        #expect(try parse("250-a\r\n250 b").isEmpty)
    }

    /// A next hop's words are kept only as safe text: controls, ESC, C1 characters and bidirectional
    /// overrides become `?`, and a line is cut at `SMTPReply.maxLineLength`.
    @Test func replyTextIsMadeSafeAndBounded() throws {
        let reply = try #require(try parse("550 5.1.1 \u{1B}[2J\u{85}\u{202E}evil" + String(repeating: "x", count: 3000) + "\r\n").first)
        #expect(reply.lines[0].hasPrefix("?[2J??evil"))
        #expect(reply.lines[0].count == SMTPReply.maxLineLength)
        let failure = SMTPClientSession.Failure(stage: .rcpt, reply: reply, detail: "\u{7}bell", isPermanent: true)
        #expect(failure.description.count <= SMTPClientSession.Failure.maxTextLength)
        #expect(failure.detail == "?bell")
    }

    @Test func aMalformedLineIsReportedAsSafeText() {
        #expect(throws: SMTPReplyParser.ParseError.malformedLine("45?]0;title?")) { try parse("45\u{1B}]0;title\u{7}\r\n") }
    }
}
