import MailModel
import SMTPProtocol
import Testing

@Suite struct CommandParserTests {
    func parse(_ text: String) throws(SMTPCommandError) -> SMTPCommand {
        try SMTPCommandParser.parse(Array(text.utf8))
    }

    @Test func parsesEveryCommand() throws {
        #expect(try parse("EHLO client.example") == .ehlo("client.example"))
        #expect(try parse("helo  client.example ") == .helo("client.example"))
        #expect(try parse("DATA") == .data)
        #expect(try parse("rset") == .rset)
        #expect(try parse("NOOP anything") == .noop)
        #expect(try parse("QUIT") == .quit)
        #expect(try parse("HELP mail") == .help)
        #expect(try parse("VRFY bob") == .vrfy("bob"))
        #expect(try parse("STARTTLS") == .startTLS)
        #expect(try parse("AUTH plain dGVzdA==") == .auth(mechanism: "PLAIN", initialResponse: "dGVzdA=="))
        #expect(try parse("AUTH LOGIN") == .auth(mechanism: "LOGIN", initialResponse: nil))
        #expect(try parse("MAIL FROM:<>") == .mail(.null, []))
        #expect(
            try parse("MAIL FROM:<a@example.org> SIZE=10 body=8bitmime SMTPUTF8")
                == .mail(
                    .mailbox(try EmailAddress(parsing: "a@example.org")),
                    [ESMTPParameter("SIZE", "10"), ESMTPParameter("BODY", "8bitmime"), ESMTPParameter("SMTPUTF8", nil)])
        )
        #expect(try parse("RCPT TO:<postmaster>") == .rcpt(.postmaster, []))
        #expect(
            try parse("RCPT TO:<PostMaster@example.org>")
                == .rcpt(.mailbox(try EmailAddress(parsing: "PostMaster@example.org")), []))
    }

    @Test(arguments: [
        ("FROB", SMTPCommandError.unknownCommand),
        ("", .unknownCommand),
        ("EXPN list", .notImplemented("EXPN")),
        ("GET / HTTP/1.1", .nonSMTP("GET")),
        ("POST /x HTTP/1.0", .nonSMTP("POST")),
        ("DATA now", .syntax("Syntax: DATA takes no argument")),
        ("EHLO", .syntax("Syntax: EHLO hostname")),
        ("MAIL <a@b.example>", .syntax("Syntax: MAIL FROM:<address>")),
        ("MAIL FROM:<a@b.example>SIZE=1", .syntax("Syntax: a space must follow the address")),
        ("MAIL FROM:<a@b.example> SIZE=", .syntax("Syntax: bad value for parameter SIZE")),
        ("MAIL FROM:<a@b.example> =1", .syntax("Syntax: bad parameter ")),
        ("MAIL FROM:<a@b.example> -X", .syntax("Syntax: bad parameter -X")),
        ("AUTH", .syntax("Syntax: AUTH mechanism [initial-response]")),
        ("AUTH PLAIN a b", .syntax("Syntax: AUTH mechanism [initial-response]")),
    ])
    func refusesBadLines(_ line: String, _ error: SMTPCommandError) {
        #expect(throws: error) { try parse(line) }
    }

    @Test(arguments: [[UInt8]("NOOP\nX".utf8), [UInt8]("NO\rOP".utf8), [78, 79, 0, 80], [78, 79, 0xFF, 0xFE]])
    func refusesBytesThatCannotBeInACommand(_ line: [UInt8]) {
        #expect(throws: SMTPCommandError.badCharacters) { try SMTPCommandParser.parse(line) }
    }
}
