import Foundation
import IMAPProtocol
import Testing

func crlf(_ text: String) -> [UInt8] {
    Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)
}

@Suite struct MIMEPartTests {
    static let simple = crlf(
        """
        From: "Alice Example" <alice@example.org>
        To: bob@example.net, Team: carol@example.net, dave@example.net;
        Subject: Hello
         world
        Date: Fri, 27 Nov 2026 07:00:00 +0000
        Message-ID: <1@example.org>

        line one
        line two

        """)

    @Test func aSimpleMessageIsOneTextPart() {
        let part = MIMEPart.parse(Self.simple)
        #expect(part.field("subject") == "Hello world", "unfolded")
        #expect(
            part.contentType.type == "text" && part.contentType.parameter("charset") == "us-ascii", "RFC 2045 default")
        #expect(part.body.count == 20 && part.bodyLines == 2)
        #expect(Array(Self.simple[part.header]).suffix(4) == [13, 10, 13, 10], "the header ends with its blank line")
        #expect(
            IMAPStructureEncoder.bodyStructure(part, extended: false)
                == "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 20 2)")
    }

    /// A message whose own type is message/rfc822 (a forward as the whole message): part 1 is its body,
    /// the encapsulated message whole, and `1.1` is that message's text (imaptest's
    /// fetch-body-message-rfc822: BODY[1] used to give the inner text).
    @Test func aTopLevelMessageRFC822IsNumberedFromItsBody() throws {
        let outer = crlf(
            """
            From: a@example.org
            Content-Type: message/rfc822

            From: b@example.org
            Subject: inner

            Hello world

            """)
        let part = MIMEPart.parse(outer)
        let one = try #require(part.part(at: [1]))
        #expect(String(decoding: outer[one.body], as: UTF8.self).hasPrefix("From: b@example.org\r\n"))
        let inner = try #require(part.part(at: [1, 1]))
        #expect(String(decoding: outer[inner.body], as: UTF8.self) == "Hello world\r\n")
        #expect(part.part(at: [2]) == nil)
    }

    /// imaptest's fetch-envelope: a comment in a group is no member, and a source route is IMAP's adl.
    @Test func envelopeGroupCommentsAndSourceRoutes() {
        let part = MIMEPart.parse(
            crlf("From: <@route:user@domain>\nCc: group:;, group2: (foo) ;\nSubject: x\n\nbody\n"))
        let envelope = IMAPStructureEncoder.envelope(part)
        #expect(envelope.contains("((NIL \"@route\" \"user\" \"domain\"))"), "\(envelope)")
        #expect(
            envelope.contains("((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL))"),
            "\(envelope)")
    }

    @Test func envelopeWithNamesAndGroups() {
        let part = MIMEPart.parse(Self.simple)
        #expect(
            IMAPStructureEncoder.envelope(part)
                == "(\"Fri, 27 Nov 2026 07:00:00 +0000\" \"Hello world\" ((\"Alice Example\" NIL \"alice\" \"example.org\")) "
                + "((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) "
                + "((NIL NIL \"bob\" \"example.net\")(NIL NIL \"Team\" NIL)(NIL NIL \"carol\" \"example.net\")"
                + "(NIL NIL \"dave\" \"example.net\")(NIL NIL NIL NIL)) NIL NIL NIL \"<1@example.org>\")")
    }

    static let multipart = crlf(
        """
        Subject: parts
        Content-Type: multipart/mixed; boundary="b1"

        preamble
        --b1
        Content-Type: text/plain; charset=utf-8

        hello
        --b1
        Content-Type: message/rfc822
        Content-Disposition: attachment; filename="fwd.eml"

        Subject: inner
        Content-Type: multipart/alternative; boundary=b2

        --b2

        plain
        --b2
        Content-Type: text/html

        <p>html</p>
        --b2--
        --b1
        Content-Type: application/pdf
        Content-Transfer-Encoding: base64

        JVBERi0=
        --b1--
        epilogue

        """)

    @Test func multipartsNestAndMessagePartsNumberIntoTheirMessage() throws {
        let part = MIMEPart.parse(Self.multipart)
        #expect(part.isMultipart && part.children.count == 3)
        let first = try #require(part.part(at: [1]))
        #expect(
            Array(Self.multipart[first.body]) == Array("hello".utf8), "the CRLF before a boundary is the boundary's")
        #expect(part.part(at: [2])?.isMessage == true)
        let html = try #require(part.part(at: [2, 2]))
        #expect(html.contentType.subtype == "html" && Array(Self.multipart[html.body]) == Array("<p>html</p>".utf8))
        #expect(part.part(at: [2, 1])?.contentType.subtype == "plain", "a bare part in a multipart is text/plain")
        #expect(part.part(at: [3])?.field("Content-Transfer-Encoding") == "base64")
        #expect(part.part(at: [4]) == nil && part.part(at: [1, 2]) == nil)
        #expect(part.part(at: [1, 1]) != nil, "a single part is its own part 1")
    }

    @Test func bodyStructureOfTheWholeTree() {
        let structure = IMAPStructureEncoder.bodyStructure(MIMEPart.parse(Self.multipart), extended: true)
        #expect(
            structure.hasPrefix(
                "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL"
            ))
        #expect(structure.contains("(\"ATTACHMENT\" (\"FILENAME\" \"fwd.eml\"))"))
        #expect(structure.contains("\"ALTERNATIVE\" (\"BOUNDARY\" \"b2\")"))
        #expect(structure.contains("(\"APPLICATION\" \"PDF\" NIL NIL NIL \"BASE64\" 8 NIL NIL NIL NIL)"))
        #expect(structure.hasSuffix(" \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)"))
    }

    @Test func nestingIsBounded() {
        var message = ""
        for level in 0..<100 {
            message += "Content-Type: multipart/mixed; boundary=\"l\(level)\"\n\n--l\(level)\n"
        }
        message += "\nbody\n"
        var limits = MIMEPart.Limits()
        limits.depth = 10
        var part = MIMEPart.parse(crlf(message), limits: limits)
        var depth = 0
        while let child = part.children.first {
            part = child
            depth += 1
        }
        #expect(depth == 10)
    }

    @Test func partsAreBounded() {
        let message =
            "Content-Type: multipart/mixed; boundary=x\n\n" + String(repeating: "--x\n\nbody\n", count: 5000)
            + "--x--\n"
        #expect(MIMEPart.parse(crlf(message)).children.count < 1000)
    }

    @Test func aMessageWithoutABlankLineIsAllHeader() {
        let part = MIMEPart.parse(crlf("Subject: only a header\n"))
        #expect(part.body.isEmpty && part.field("Subject") == "only a header")
    }

    @Test func stringsThatCannotBeQuotedBecomeLiterals() {
        #expect(IMAPStructureEncoder.string("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"")
        #expect(IMAPStructureEncoder.string("Grüße") == "{7}\r\nGrüße")
        #expect(IMAPStructureEncoder.nstring(nil) == "NIL")
    }
}
