import IMAPProtocol
import NIOCore
import ProtocolSupport
import Testing

/// Drives an `IMAPSession` as the NIO driver does and records what it asks for.
struct IMAPHarness {
    var session: IMAPSession
    var sent = ""
    var actions: [IMAPSession.Action] = []

    init(implicitTLS: Bool = true, tlsAvailable: Bool = true, maxLiteral: Int = 1000, maxErrors: Int = 10) {
        var configuration = IMAPSession.Configuration(hostname: "mx.test", tlsAvailable: tlsAvailable)
        configuration.maxLiteralSize = maxLiteral
        configuration.maxErrors = maxErrors
        self.init(configuration: configuration, implicitTLS: implicitTLS)
    }

    init(configuration: IMAPSession.Configuration, implicitTLS: Bool = true) {
        session = IMAPSession(configuration: configuration, implicitTLS: implicitTLS)
        session.start()
        drain()
    }

    mutating func drain() {
        while let action = session.next() {
            if case .send(let text) = action { sent += text } else { actions.append(action) }
        }
    }

    @discardableResult
    mutating func send(_ text: String) -> String {
        sent = ""
        actions = []
        session.receive(ByteBuffer(string: text))
        drain()
        return sent
    }

    mutating func finish(_ event: (inout IMAPSession) -> Void) -> String {
        sent = ""
        actions = []
        event(&session)
        drain()
        return sent
    }
}

@Suite struct IMAPSessionTests {
    @Test func greetsWithCapabilities() {
        let harness = IMAPHarness(implicitTLS: false)
        #expect(harness.sent.hasPrefix("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR"))
        #expect(harness.sent.hasSuffix(" STARTTLS LOGINDISABLED] mx.test Relaygate IMAP ready\r\n"))
    }

    @Test func capabilityTellsTheTruthBeforeAndAfterTLS() {
        var harness = IMAPHarness(implicitTLS: false)
        let before = harness.send("a CAPABILITY\r\n")
        #expect(before.contains(" STARTTLS LOGINDISABLED\r\n") && !before.contains("AUTH=PLAIN"))
        #expect(before.hasSuffix("a OK CAPABILITY completed\r\n"))
        #expect(harness.send("b STARTTLS\r\n") == "b OK Begin TLS negotiation now\r\n")
        #expect(harness.actions == [.startTLS])
        _ = harness.finish { $0.tlsEstablished() }
        let after = harness.send("c CAPABILITY\r\n")
        #expect(after.contains(" AUTH=PLAIN\r\n") && !after.contains("STARTTLS") && !after.contains("LOGINDISABLED"))
    }

    @Test func plaintextBufferedBehindSTARTTLSIsDiscarded() {
        var harness = IMAPHarness(implicitTLS: false)
        #expect(harness.send("b STARTTLS\r\nc LOGIN mallory x\r\n") == "b OK Begin TLS negotiation now\r\n")
        _ = harness.finish { $0.tlsEstablished() }
        #expect(harness.actions.isEmpty)
        #expect(harness.send("d NOOP\r\n") == "d OK NOOP completed\r\n")
    }

    @Test func loginsNeedTLS() {
        var harness = IMAPHarness(implicitTLS: false)
        #expect(
            harness.send("a LOGIN alice secret\r\n")
                == "a NO [PRIVACYREQUIRED] Logins need TLS: send STARTTLS first, or use port 993\r\n")
        #expect(harness.send("b AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n").hasPrefix("b NO [PRIVACYREQUIRED]"))
        #expect(harness.actions.isEmpty, "no password was checked")
    }

    @Test func loginWithLiteralsAndTheOutcomes() {
        var harness = IMAPHarness()
        #expect(harness.send("a LOGIN {5}\r\n") == "+ Ready for literal data\r\n")
        harness.send("alice {6+}\r\nsecret\r\n")
        #expect(
            harness.actions == [
                .verifyCredentials(Credentials(mechanism: "LOGIN", username: "alice", password: "secret"))
            ])
        #expect(harness.session.phase == .waitingForDriver)
        #expect(
            harness.finish { $0.authenticationFinished(.rejected) }
                == "a NO [AUTHENTICATIONFAILED] Invalid user name or password\r\n")
        harness.send("b LOGIN alice secret\r\n")
        let ok = harness.finish { $0.authenticationFinished(.accepted) }
        #expect(
            ok.hasPrefix("b OK [CAPABILITY IMAP4rev1") && ok.hasSuffix("] Logged in\r\n") && !ok.contains("AUTH=PLAIN"))
        #expect(harness.send("c LOGIN alice secret\r\n") == "c BAD Already logged in\r\n")
    }

    @Test func authenticatePlainWithAndWithoutInitialResponse() {
        var harness = IMAPHarness()
        #expect(harness.send("a AUTHENTICATE PLAIN\r\n") == "+ \r\n")
        harness.send("AGFsaWNlAHNlY3JldA==\r\n")
        #expect(
            harness.actions == [
                .verifyCredentials(Credentials(mechanism: "PLAIN", username: "alice", password: "secret"))
            ])
        _ = harness.finish { $0.authenticationFinished(.temporaryFailure) }
        #expect(harness.sent.hasPrefix("a NO [UNAVAILABLE]"))
        #expect(harness.send("b AUTHENTICATE PLAIN\r\n") == "+ \r\n")
        #expect(harness.send("*\r\n") == "b BAD AUTHENTICATE cancelled\r\n")
        harness.send("c AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n")
        #expect(harness.actions.count == 1)
    }

    @Test func literalsOverTheLimit() {
        var harness = IMAPHarness(maxLiteral: 10)
        harness.send("x LOGIN alice secret\r\n")
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        #expect(harness.send("a APPEND INBOX {11}\r\n") == "a NO [TOOBIG] Literal too large\r\n")
        #expect(harness.send("b NOOP\r\n") == "b OK NOOP completed\r\n", "the session goes on")
        #expect(harness.send("c APPEND INBOX {11+}\r\n") == "* BYE Literal too large\r\n")
        #expect(harness.actions == [.close])
    }

    @Test func badCommandsAndTheErrorLimit() {
        var harness = IMAPHarness(maxErrors: 3)
        #expect(harness.send("a FROB\r\n") == "a BAD unknown command FROB\r\n")
        #expect(harness.send("\r\n") == "* BAD Missing or bad tag\r\n")
        #expect(harness.send("b SELECT INBOX\r\n") == "* BYE Too many errors, closing\r\n")
    }

    @Test func commandsNeedALogin() {
        var harness = IMAPHarness()
        #expect(harness.send("a SELECT INBOX\r\n") == "a BAD Log in first\r\n")
    }

    @Test func logout() {
        var harness = IMAPHarness()
        #expect(harness.send("z LOGOUT\r\n") == "* BYE mx.test logging out\r\nz OK LOGOUT completed\r\n")
        #expect(harness.actions == [.close])
    }

    /// Before login a literal is a password at most: a LITERAL+ announcement of 1 MiB is refused before any
    /// of it is read (and, being on its way, ends the connection); a synchronizing one gets NO and no "+".
    @Test func beforeLoginLiteralsAreSmall() {
        var harness = IMAPHarness()
        #expect(harness.send("a LOGIN {9000}\r\n") == "a NO [TOOBIG] Literal too large\r\n")
        #expect(harness.send("b LOGIN {1048576+}\r\n") == "* BYE Literal too large\r\n")
        #expect(harness.actions == [.close])
        var small = IMAPHarness()
        #expect(small.send("c LOGIN {5}\r\n") == "+ Ready for literal data\r\n", "a password-sized one is welcome")
    }

    /// After login, an APPEND's large message is streamed to the driver chunk by chunk; a large literal in
    /// any other command is refused before it is sent.
    @Test func aLargeAppendIsStreamed() {
        var configuration = IMAPSession.Configuration(hostname: "mx.test", tlsAvailable: true)
        configuration.streamLiteralsFrom = 10
        var harness = IMAPHarness(configuration: configuration)
        harness.send("x LOGIN alice secret\r\n")
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        #expect(harness.send("a APPEND Sent (\\Seen) {12}\r\n") == "", "no + before the folder is looked at")
        #expect(harness.actions == [.request(.appendTarget("Sent"))])
        #expect(harness.finish { $0.requestFinished(.done(refusal: nil)) } == "+ Ready for literal data\r\n")
        #expect(harness.actions == [.appendBegin(size: 12)])
        harness.send("hello world!\r\n")
        #expect(
            harness.actions == [
                .appendChunk(ByteBuffer(string: "hello world!")),
                .request(.appendStreamed("Sent", flags: ["\\Seen"], date: nil)),
            ])
        #expect(
            harness.finish { $0.requestFinished(.appended(uidValidity: 1, uid: 2)) }
                == "a OK [APPENDUID 1 2] APPEND completed\r\n")
        #expect(harness.send("b SEARCH {20}\r\n") == "b NO [TOOBIG] only APPEND takes a literal this large\r\n")
        // A folder that is not there: refused before the client sends a byte of the message.
        harness.send("t APPEND Nowhere {20}\r\n")
        #expect(
            harness.finish { $0.requestFinished(.done(refusal: "[TRYCREATE] No folder Nowhere")) }
                == "t NO [TRYCREATE] No folder Nowhere\r\n")
        #expect(harness.send("u NOOP\r\n") == "u OK NOOP completed\r\n", "the session goes on")
        harness.send("c APPEND INBOX {12+}\r\nhello world! junk\r\n")
        #expect(harness.actions.last == .appendAbort)
        #expect(harness.sent == "c BAD unexpected text after the message (one message per APPEND)\r\n")
    }

    /// The client waits for its command's tagged reply: a line too long gets one when its tag can be read
    /// (imaptest's ID test hung on an untagged BAD), and ends the connection when it cannot.
    @Test func longLinesGetATaggedReply() {
        var harness = IMAPHarness()
        #expect(harness.send("a NOOP " + String(repeating: "x", count: 70_000) + "\r\n") == "a BAD Line too long\r\n")
        #expect(harness.send("b NOOP\r\n") == "b OK NOOP completed\r\n", "the session goes on")
        #expect(harness.send(String(repeating: "x", count: 70_000) + "\r\n") == "* BYE Line too long\r\n")
        #expect(harness.actions == [.close])
    }

    @Test func linesAsLongAsRealClientsSendAreRead() {
        var harness = IMAPHarness()
        let long = "a LOGIN " + String(repeating: "u", count: 31_000) + " p\r\n"
        harness.send(long)
        #expect(harness.actions.count == 1, "\(harness.sent)")
    }

    /// ID (RFC 2971) in any state: our name, and theirs for the log. ENABLE (RFC 5161) once logged in:
    /// nothing we offer needs enabling.
    @Test func idAndEnable() {
        var harness = IMAPHarness()
        #expect(
            harness.send("a ID (\"name\" \"Thunderbird\" \"version\" NIL)\r\n")
                == "* ID (\"name\" \"Relaygate\")\r\na OK ID completed\r\n")
        #expect(harness.actions == [.log(.clientIdentified("name=Thunderbird version=NIL"))])
        #expect(harness.send("b ID NIL\r\n").hasSuffix("b OK ID completed\r\n"))
        #expect(harness.send("c ID (\"odd\")\r\n").hasPrefix("c BAD "))
        #expect(harness.send("d ENABLE CONDSTORE\r\n") == "d BAD Log in first\r\n")
        harness.send("e LOGIN alice secret\r\n")
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        #expect(harness.send("f ENABLE CONDSTORE UTF8=ACCEPT\r\n") == "* ENABLED\r\nf OK ENABLE completed\r\n")
    }

    @Test func onlyWholeCommandsCount() {
        var harness = IMAPHarness()
        harness.send("a NO")
        #expect(harness.session.commandsTaken == 0)
        harness.send("OP\r\n")
        #expect(harness.session.commandsTaken == 1)
    }
}
