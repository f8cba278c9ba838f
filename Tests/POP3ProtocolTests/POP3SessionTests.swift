import NIOCore
import POP3Protocol
import ProtocolSupport
import Testing

/// Drives a session the way the NIO driver does and records what it asks for.
struct Harness {
    var session: POP3Session
    var sent = ""
    var actions: [POP3Session.Action] = []

    init(tlsAvailable: Bool = true, implicitTLS: Bool = true, maxErrors: Int = 10) {
        var configuration = POP3Session.Configuration(hostname: "mx.test", tlsAvailable: tlsAvailable)
        configuration.maxErrors = maxErrors
        session = POP3Session(configuration: configuration, implicitTLS: implicitTLS)
        session.start()
        drain()
    }

    mutating func drain() {
        while let action = session.next() {
            if case .send(let text) = action { sent += text } else { actions.append(action) }
        }
    }

    /// Sends input and returns what the server wrote in answer.
    @discardableResult
    mutating func send(_ text: String) -> String {
        sent = ""
        actions = []
        session.receive(ByteBuffer(string: text))
        drain()
        return sent
    }

    mutating func finish(_ event: (inout POP3Session) -> Void) -> String {
        sent = ""
        actions = []
        event(&session)
        drain()
        return sent
    }

    static let maildrop = [
        POP3Session.MaildropEntry(size: 120, uniqueID: "7.1"),
        POP3Session.MaildropEntry(size: 300, uniqueID: "7.2"),
        POP3Session.MaildropEntry(size: 45, uniqueID: "7.5"),
    ]

    /// Logged in as alice with the three-message maildrop.
    static func loggedIn() -> Harness {
        var harness = Harness()
        harness.send("USER alice\r\nPASS secret word\r\n")
        #expect(
            harness.actions == [
                .verifyCredentials(Credentials(mechanism: "USER", username: "alice", password: "secret word"))
            ])
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        #expect(harness.actions.contains(.openMaildrop(user: "alice")))
        let reply = harness.finish { $0.maildropOpened(.success(maildrop)) }
        #expect(reply == "+OK Logged in, 3 messages (465 octets)\r\n")
        return harness
    }
}

@Suite struct POP3AuthorizationTests {
    @Test func greets() {
        #expect(Harness().sent == "+OK mx.test Relaygate POP3 ready\r\n")
    }

    @Test func capaTellsTheTruthBeforeAndAfterTLS() {
        var plain = Harness(implicitTLS: false)
        let before = plain.send("CAPA\r\n")
        #expect(before.contains("STLS\r\n") && !before.contains("USER") && !before.contains("SASL"))
        #expect(before.hasPrefix("+OK") && before.hasSuffix("\r\n.\r\n"))
        #expect(plain.send("STLS\r\n") == "+OK Begin TLS negotiation\r\n")
        #expect(plain.actions == [.startTLS])
        let after = plain.finish { $0.tlsEstablished() }
        #expect(after == "")
        let capa = plain.send("CAPA\r\n")
        #expect(!capa.contains("STLS") && capa.contains("USER\r\n") && capa.contains("SASL PLAIN\r\n"))
        #expect(plain.send("STLS\r\n").hasPrefix("-ERR TLS is already active"))

        var noCertificate = Harness(tlsAvailable: false, implicitTLS: false)
        #expect(!noCertificate.send("CAPA\r\n").contains("STLS"))
        #expect(noCertificate.send("STLS\r\n").hasPrefix("-ERR STLS is not available"))
    }

    @Test func passwordsAreRefusedOutsideTLS() {
        var harness = Harness(implicitTLS: false)
        #expect(harness.send("USER alice\r\n").hasPrefix("-ERR [AUTH] Plaintext login is not allowed"))
        #expect(harness.send("PASS x\r\n").hasPrefix("-ERR [AUTH]"))
        #expect(harness.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").hasPrefix("-ERR [AUTH]"))
        #expect(harness.actions.isEmpty, "no credentials were checked")
    }

    /// RFC 2595 4: what the client pipelined behind STLS in plaintext is discarded, never read inside TLS.
    @Test func plaintextBufferedBehindSTLSIsDiscarded() {
        var harness = Harness(implicitTLS: false)
        #expect(harness.send("STLS\r\nUSER mallory\r\nPASS x\r\n") == "+OK Begin TLS negotiation\r\n")
        _ = harness.finish { $0.tlsEstablished() }
        #expect(harness.actions.isEmpty)
        #expect(harness.send("PASS x\r\n") == "-ERR Send USER first\r\n")
    }

    @Test func saslPlainWithAndWithoutInitialResponse() {
        var harness = Harness()
        harness.send("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        #expect(
            harness.actions == [
                .verifyCredentials(Credentials(mechanism: "PLAIN", username: "alice", password: "secret"))
            ])
        _ = harness.finish { $0.authenticationFinished(.rejected) }
        #expect(harness.sent == "-ERR [AUTH] Invalid user name or password\r\n")

        #expect(harness.send("AUTH PLAIN\r\n") == "+ \r\n")
        harness.send("AGFsaWNlAHNlY3JldA==\r\n")
        #expect(harness.actions.count == 1)
        _ = harness.finish { $0.authenticationFinished(.rejected) }
        #expect(harness.send("AUTH PLAIN\r\n") == "+ \r\n")
        #expect(harness.send("*\r\n") == "-ERR AUTH cancelled\r\n")
        #expect(harness.send("AUTH PLAIN bm90IHBsYWlu\r\n") == "-ERR [AUTH] Invalid PLAIN response\r\n")
        #expect(harness.send("AUTH CRAM-MD5\r\n").hasPrefix("-ERR Unsupported mechanism"))
        #expect(harness.send("AUTH\r\n") == "+OK\r\nPLAIN\r\n.\r\n")
    }

    @Test func aMaildropInUseSendsTheClientBackToAuthorization() {
        var harness = Harness()
        harness.send("USER alice\r\nPASS x\r\n")
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        let reply = harness.finish { $0.maildropOpened(.failure(.inUse)) }
        #expect(reply.hasPrefix("-ERR [IN-USE] "))
        #expect(harness.send("STAT\r\n") == "-ERR Log in first\r\n")
    }

    @Test func transactionCommandsNeedALogin() {
        var harness = Harness()
        for command in ["STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 1", "NOOP", "RSET"] {
            #expect(harness.send(command + "\r\n") == "-ERR Log in first\r\n", "\(command)")
        }
    }

    @Test func tooManyErrorsClose() {
        var harness = Harness(maxErrors: 3)
        harness.send("FOO\r\nBAR\r\n")
        #expect(harness.send("BAZ\r\n") == "-ERR Too many errors, closing\r\n")
        #expect(harness.actions.contains(.close))
        #expect(harness.session.phase == .closed)
    }

    @Test func longLinesAreRefusedAndTheSessionGoesOn() {
        var harness = Harness()
        #expect(harness.send("NOOP " + String(repeating: "x", count: 2000) + "\r\n") == "-ERR Line too long\r\n")
        #expect(harness.send("QUIT\r\n") == "+OK mx.test signing off\r\n")
    }

    @Test func timeoutClosesWithoutUpdate() {
        var harness = Harness.loggedIn()
        harness.send("DELE 1\r\n")
        let reply = harness.finish { $0.timeoutFired() }
        #expect(reply == "-ERR Idle too long, closing\r\n")
        #expect(!harness.actions.contains { if case .removeMessages = $0 { true } else { false } })
        #expect(harness.actions.contains(.close))
    }
}

@Suite struct POP3TransactionTests {
    @Test func statListAndUidl() {
        var harness = Harness.loggedIn()
        #expect(harness.send("STAT\r\n") == "+OK 3 465\r\n")
        #expect(harness.send("LIST\r\n") == "+OK scan listing follows\r\n1 120\r\n2 300\r\n3 45\r\n.\r\n")
        #expect(harness.send("LIST 2\r\n") == "+OK 2 300\r\n")
        #expect(harness.send("LIST 4\r\n") == "-ERR No such message\r\n")
        #expect(harness.send("LIST 0\r\n") == "-ERR No such message\r\n")
        #expect(harness.send("UIDL\r\n") == "+OK unique-id listing follows\r\n1 7.1\r\n2 7.2\r\n3 7.5\r\n.\r\n")
        #expect(harness.send("UIDL 3\r\n") == "+OK 3 7.5\r\n")
    }

    @Test func deleHidesAMessageAndRsetBringsItBack() {
        var harness = Harness.loggedIn()
        #expect(harness.send("DELE 2\r\n") == "+OK Message 2 deleted\r\n")
        #expect(harness.send("STAT\r\n") == "+OK 2 165\r\n")
        #expect(harness.send("LIST\r\n") == "+OK scan listing follows\r\n1 120\r\n3 45\r\n.\r\n")
        #expect(harness.send("RETR 2\r\n") == "-ERR Message 2 is deleted\r\n")
        #expect(harness.send("DELE 2\r\n") == "-ERR Message 2 is deleted\r\n")
        #expect(harness.send("RSET\r\n") == "+OK 3 messages (465 octets)\r\n")
        #expect(harness.send("STAT\r\n") == "+OK 3 465\r\n")
    }

    @Test func retrAndTopAskTheDriverAndWaitForIt() {
        var harness = Harness.loggedIn()
        // Pipelined: the NOOP is answered only after the message has been sent.
        #expect(harness.send("RETR 2\r\nNOOP\r\n") == "")
        #expect(harness.actions == [.sendMessage(index: 1, bodyLines: nil, status: "+OK 300 octets\r\n")])
        #expect(harness.session.phase == .waitingForDriver)
        #expect(harness.finish { $0.messageSent() } == "+OK \r\n")
        harness.send("TOP 1 5\r\n")
        #expect(harness.actions == [.sendMessage(index: 0, bodyLines: 5, status: "+OK top of message follows\r\n")])
        #expect(harness.finish { $0.messageSent(false) }.hasPrefix("-ERR [SYS/TEMP] That message is no longer there"))
    }

    @Test func quitRemovesTheDeletedMessagesThenSignsOff() {
        var harness = Harness.loggedIn()
        harness.send("DELE 3\r\nDELE 1\r\nQUIT\r\n")
        #expect(harness.actions == [.removeMessages([0, 2])])
        #expect(harness.finish { $0.updateFinished(removed: true) } == "+OK mx.test signing off (1 message left)\r\n")
        #expect(harness.actions == [.close])
    }

    @Test func aFailedRemovalIsReported() {
        var harness = Harness.loggedIn()
        harness.send("DELE 1\r\nQUIT\r\n")
        #expect(harness.finish { $0.updateFinished(removed: false) }.hasPrefix("-ERR [SYS/TEMP] Some deleted messages"))
    }

    @Test func quitWithoutDeletionsNeedsNoDriver() {
        var harness = Harness.loggedIn()
        #expect(harness.send("QUIT\r\n") == "+OK mx.test signing off (3 messages left)\r\n")
        #expect(harness.actions == [.close])
    }

    @Test func aStopWaitsForTheMessageBeingSentThenClosesWithoutDeleting() {
        var harness = Harness.loggedIn()
        harness.send("DELE 1\r\nRETR 2\r\n")
        #expect(harness.finish { $0.shutdownStarted() } == "", "nothing may interrupt a message in flight")
        #expect(harness.finish { $0.messageSent() } == "-ERR [SYS/TEMP] Server shutting down; reconnect later\r\n")
        #expect(harness.actions == [.close])

        var idle = Harness.loggedIn()
        #expect(idle.finish { $0.shutdownStarted() }.hasPrefix("-ERR [SYS/TEMP] Server shutting down"))
    }

    @Test func aDroppedConnectionRemovesNothing() {
        var harness = Harness.loggedIn()
        harness.send("DELE 1\r\n")
        _ = harness.finish { $0.inputClosed() }
        #expect(harness.actions.isEmpty)
        #expect(harness.session.phase == .closed)
    }

    @Test func commandsSplitAcrossReadsAndPipelinedAreAnsweredInOrder() {
        var harness = Harness.loggedIn()
        #expect(harness.send("ST") == "")
        #expect(harness.send("AT\r\nLIST 1\r\nUIDL 2\r\n") == "+OK 3 465\r\n+OK 1 120\r\n+OK 2 7.2\r\n")
    }
}

@Suite struct POP3CommandParserTests {
    @Test(arguments: [
        ("user alice", POP3Command.user("alice")),
        ("PASS two words", .pass("two words")),
        ("RETR 1", .retr(1)),
        ("top 2 0", .top(2, lines: 0)),
        ("LIST", .list(nil)),
        ("UIDL 12", .uidl(12)),
        ("auth plain", .auth(mechanism: "PLAIN", initialResponse: nil)),
        ("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "=")),
    ])
    func parses(_ line: String, _ command: POP3Command) {
        #expect(POP3Command.parse(Array(line.utf8)) == .success(command))
    }

    @Test(arguments: [
        "RETR", "RETR x", "RETR -1", "RETR 1 2", "TOP 1", "STAT now", "USER", "PASS", "DELE 99999999999",
    ])
    func refusesBadArguments(_ line: String) {
        guard case .failure(.syntax) = POP3Command.parse(Array(line.utf8)) else {
            Issue.record("\(line) parsed")
            return
        }
    }

    @Test func unknownCommandsAreNamed() {
        #expect(POP3Command.parse(Array("APOP a b".utf8)) == .failure(.unknown("APOP")))
    }
}
