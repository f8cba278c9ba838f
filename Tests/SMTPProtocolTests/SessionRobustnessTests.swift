import MailModel
import NIOCore
import SMTPProtocol
import TestSupport
import Testing

/// Bytes from a peer never crash the session: thousands of sessions of random commands, fragments and
/// noise, cut at random places, with random outcomes for commits and logins. Seeded, so a failure repeats.
@Suite struct SessionRobustnessTests {
    static let vocabulary: [String] = [
        "EHLO c\r\n", "HELO c\r\n", "MAIL FROM:<a@example.org>\r\n", "MAIL FROM:<>\r\n",
        "MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=x\r\n",
        "RCPT TO:<b@example.net>\r\n", "RCPT TO:<b@example.net> NOTIFY=SUCCESS ORCPT=rfc822;b@example.net\r\n",
        "RCPT TO:<Postmaster>\r\n", "DATA\r\n", "RSET\r\n", "NOOP\r\n", "QUIT\r\n", "VRFY x\r\n", "HELP\r\n",
        "STARTTLS\r\n", "AUTH PLAIN\r\n", "AUTH LOGIN\r\n", "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", "YWxpY2U=\r\n",
        "*\r\n", ".\r\n", "..\r\n", "\r\n", "\n", "\r", ".", "\0", "\n.\n", "\r\n.\r\n", "Subject: x\r\n",
        "Received: x\r\n", "GET / HTTP/1.1\r\n", "MAIL FROM:<\"a\\\"b\"@[IPv6:::1]>\r\n", "RCPT TO:<@a,@b:c@d>\r\n",
        "\u{FF}\u{FE}\r\n", "é\r\n", String(repeating: "x", count: 3000), "BDAT 10\r\n",
    ]

    @Test(arguments: 0..<8)
    func randomDialogsNeverCrash(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<250 {
            var configuration = SMTPServerConfiguration(hostname: "mx.test")
            configuration.maxMessageSize = Int(random.next() % 200)
            configuration.maxRecipients = Int(random.next() % 3) + 1
            configuration.maxErrors = Int(random.next() % 20) + 1
            let implicitTLS = random.next() % 2 == 0
            var harness = SessionHarness(
                configuration: configuration,
                client: SMTPClientConnection(address: IPAddress("192.0.2.1"), port: 1, implicitTLS: implicitTLS))
            var stream: [UInt8] = []
            for _ in 0..<Int(random.next() % 40) {
                if random.next() % 10 == 0 {
                    stream += (0..<Int(random.next() % 16)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                } else {
                    stream += Array(Self.vocabulary[Int(random.next() % UInt64(Self.vocabulary.count))].utf8)
                }
            }
            var offset = 0
            while offset < stream.count && !harness.closed {
                let length = min(stream.count - offset, Int(random.next() % 64) + 1)
                harness.commitSucceeds = random.next() % 4 != 0
                harness.authResult = [.accepted, .rejected, .temporaryFailure][Int(random.next() % 3)]
                harness.feed(Array(stream[offset..<offset + length]))
                offset += length
                if random.next() % 50 == 0 {
                    harness.session.timeoutFired()
                    harness.drain()
                }
            }
            for reply in harness.replies {
                #expect((200...599).contains(reply.code))
                #expect(!reply.encoded.dropLast(2).contains("\r\n") || reply.lines.count > 1)
            }
            if harness.closed {
                let before = harness.replies.count
                harness.feed("NOOP\r\n")
                #expect(harness.replies.count == before, "a closed session says nothing more")
            }
        }
    }
}
