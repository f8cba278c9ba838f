import IMAPProtocol
import NIOCore
import Testing

/// Frames `text` and parses the one command in it.
func parse(_ text: String) -> Result<IMAPCommand, IMAPParser.Failure> {
    var framer = IMAPCommandFramer(maxLineLength: 8192, maxLiteralSize: 1 << 20)
    var buffer = ByteBuffer(string: text)
    while let event = framer.next(from: &buffer) {
        if case .command(let segments) = event { return IMAPParser.parse(segments) }
    }
    return .failure(.init(tag: nil, message: "no command framed"))
}

func kind(_ text: String) -> IMAPCommand.Kind? {
    try? parse(text).get().kind
}

func set(_ ranges: [(SequenceSet.Bound, SequenceSet.Bound)]) -> SequenceSet {
    SequenceSet(ranges: ranges.map { .init(first: $0.0, last: $0.1) })
}

@Suite struct IMAPParserTests {
    @Test(arguments: [
        ("a1 CAPABILITY\r\n", IMAPCommand.Kind.capability),
        ("a1 noop\r\n", .noop),
        ("a1 LOGIN alice \"pass word\"\r\n", .login(user: "alice", password: "pass word")),
        ("a1 LOGIN \"al\\\"ice\" \"back\\\\slash\"\r\n", .login(user: "al\"ice", password: "back\\slash")),
        ("a1 LOGIN {5}\r\nalice {3}\r\npw1\r\n", .login(user: "alice", password: "pw1")),
        ("a1 LOGIN {5+}\r\nalice secret\r\n", .login(user: "alice", password: "secret")),
        ("a1 SELECT INBOX\r\n", .select("INBOX")),
        ("a1 EXAMINE \"Sent Items\"\r\n", .examine("Sent Items")),
        ("a1 RENAME Old New\r\n", .rename(from: "Old", to: "New")),
        ("a1 LIST \"\" *\r\n", .list(reference: "", pattern: "*")),
        ("a1 LIST \"\" Archive.%\r\n", .list(reference: "", pattern: "Archive.%")),
        ("a1 LSUB \"\" \"*\"\r\n", .lsub(reference: "", pattern: "*")),
        ("a1 STATUS INBOX (MESSAGES UIDNEXT unseen)\r\n", .status("INBOX", [.messages, .uidNext, .unseen])),
        ("a1 AUTHENTICATE PLAIN\r\n", .authenticate(mechanism: "PLAIN", initialResponse: nil)),
        ("a1 AUTHENTICATE PLAIN AGEAYg==\r\n", .authenticate(mechanism: "PLAIN", initialResponse: "AGEAYg==")),
        ("a1 UID EXPUNGE 3:5\r\n", .uidExpunge(set([(.number(3), .number(5))]))),
        (
            "a1 COPY 1,3:* Trash\r\n",
            .copy(set([(.number(1), .number(1)), (.number(3), .last)]), to: "Trash", uid: false)
        ),
        ("a1 UID MOVE 7 Archive\r\n", .move(set([(.number(7), .number(7))]), to: "Archive", uid: true)),
        ("a1 IDLE\r\n", .idle),
    ])
    func parsesCommands(_ text: String, _ expected: IMAPCommand.Kind) {
        #expect(kind(text) == expected, "\(text)")
    }

    @Test func appendTakesFlagsADateAndALiteral() throws {
        let command = try parse(
            "A003 APPEND saved-messages (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {10}\r\nSubject: x\r\n"
        ).get()
        guard case .append(let mailbox, let flags, let date, let message) = command.kind else {
            Issue.record("\(command)")
            return
        }
        #expect(mailbox == "saved-messages" && flags == ["\\Seen"] && message == Array("Subject: x".utf8))
        #expect(date?.secondsSince1970 == 837_596_665, "1996-07-17 09:44:25 UTC")
        #expect(
            kind("a APPEND INBOX {3+}\r\nabc\r\n")
                == .append(mailbox: "INBOX", flags: [], date: nil, message: Array("abc".utf8)))
        #expect(kind("a APPEND INBOX \" 7-Jul-1996 02:44:25 +0000\" {1+}\r\nx\r\n") != nil, "space-padded day")
    }

    @Test func fetchAttributesAndMacros() {
        #expect(
            kind("a FETCH 1:* FAST\r\n")
                == .fetch(set([(.number(1), .last)]), [.flags, .internalDate, .rfc822Size], uid: false))
        #expect(
            kind("a FETCH 2 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From Subject)] BODY[1.2.MIME] BODY[]<0.100>)\r\n")
                == .fetch(
                    set([(.number(2), .number(2))]),
                    [
                        .uid, .rfc822Size,
                        .section(Section(text: .headerFields(["From", "Subject"])), partial: nil, peek: true),
                        .section(Section(part: [1, 2], text: .mime), partial: nil, peek: false),
                        .section(Section(), partial: .init(origin: 0, count: 100), peek: false),
                    ], uid: false))
        #expect(
            kind("a UID FETCH 5 FLAGS\r\n") == .fetch(set([(.number(5), .number(5))]), [.uid, .flags], uid: true),
            "UID always")
        #expect(kind("a FETCH 1 (BODY BODYSTRUCTURE ENVELOPE RFC822 RFC822.HEADER RFC822.TEXT)\r\n") != nil)
        #expect(
            kind("a FETCH 1 BODY[3]\r\n")
                == .fetch(
                    set([(.number(1), .number(1))]), [.section(Section(part: [3]), partial: nil, peek: false)],
                    uid: false))
    }

    @Test func storeModes() {
        let one = set([(.number(1), .number(1))])
        #expect(
            kind("a STORE 1 +FLAGS (\\Seen \\Deleted)\r\n")
                == .store(one, .add, flags: ["\\Seen", "\\Deleted"], silent: false, uid: false))
        #expect(
            kind("a UID STORE 1 -FLAGS.SILENT \\Flagged\r\n")
                == .store(one, .remove, flags: ["\\Flagged"], silent: true, uid: true))
        #expect(kind("a STORE 1 FLAGS ()\r\n") == .store(one, .replace, flags: [], silent: false, uid: false))
    }

    @Test func searchKeys() {
        #expect(kind("a SEARCH UNSEEN\r\n") == .search(.flag("\\Seen", set: false), uid: false))
        #expect(
            kind("a UID SEARCH CHARSET UTF-8 FROM \"bob\" SINCE 1-Feb-1994 NOT DELETED\r\n")
                == .search(
                    .and([
                        .header("From", "bob"), .since(IMAPDate(year: 1994, month: 2, day: 1)),
                        .not(.flag("\\Deleted", set: true)),
                    ]), uid: true))
        #expect(
            kind("a SEARCH OR (SEEN FLAGGED) LARGER 1000\r\n")
                == .search(
                    .or(.and([.flag("\\Seen", set: true), .flag("\\Flagged", set: true)]), .larger(1000)), uid: false))
        #expect(kind("a SEARCH 1:3 UID 5,* HEADER X-Spam yes\r\n") != nil)
        #expect(kind("a SEARCH SUBJECT {5}\r\nhello\r\n") == .search(.header("Subject", "hello"), uid: false))
    }

    @Test func searchNestingIsLimited() {
        let deep = String(repeating: "NOT ", count: 40) + "ALL"
        guard case .failure(let failure) = parse("a SEARCH \(deep)\r\n") else {
            Issue.record("parsed")
            return
        }
        #expect(failure.tag == "a" && failure.message == "search nested too deeply")
    }

    /// One case per way a command can be wrong; the tag comes back when it could be read.
    @Test(arguments: [
        ("\r\n", nil as String?, "Missing or bad tag"),
        ("a1\r\n", nil, "Missing or bad tag"),
        ("a+ NOOP\r\n", nil, "Missing or bad tag"),
        ("a1 FROB\r\n", "a1", "unknown command FROB"),
        ("a1 NOOP extra\r\n", "a1", "unexpected text at the end of the command"),
        ("a1 LOGIN alice\r\n", "a1", "expected a space"),
        ("a1 LOGIN \"unterminated\r\n", "a1", "unterminated quoted string"),
        ("a1 LOGIN \"bad\\escape\" x\r\n", "a1", "bad escape in a quoted string"),
        ("a1 FETCH 0 FLAGS\r\n", "a1", "numbers start at 1"),
        ("a1 FETCH 1 FLAGZ\r\n", "a1", "unknown FETCH item FLAGZ"),
        ("a1 FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "a1", "HEADER.FIELDS needs field names"),
        ("a1 FETCH 1 BODY[MIME]\r\n", "a1", "MIME needs a part number"),
        ("a1 FETCH 1 BODY[]<5.0>\r\n", "a1", "numbers start at 1"),
        ("a1 SEARCH SINCE 31-Foo-2020\r\n", "a1", "expected a date such as 1-Feb-1994"),
        ("a1 SEARCH CHARSET KOI8-R ALL\r\n", "a1", "[BADCHARSET (UTF-8 US-ASCII)] charset not supported"),
        ("a1 STATUS INBOX (SIZE)\r\n", "a1", "unknown STATUS item SIZE"),
        ("a1 STORE 1 FLAGSX (\\Seen)\r\n", "a1", "STORE takes FLAGS, +FLAGS or -FLAGS"),
        ("a1 FETCH 99999999999 FLAGS\r\n", "a1", "expected a number"),
    ])
    func refusesWithTheTag(_ text: String, _ tag: String?, _ message: String) {
        #expect(parse(text) == .failure(.init(tag: tag, message: message)), "\(text)")
    }

    @Test func sequenceSetsResolveStarAndReversedRanges() throws {
        guard case .fetch(let set, _, _)? = kind("a FETCH 5:2,*,9:* FLAGS\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(set.resolved(largest: 7) == [2...5, 7...7, 7...9])
        #expect(set.contains(3, largest: 7) && !set.contains(6, largest: 7))
    }
}

@Suite struct IMAPCommandFramerTests {
    func events(_ chunks: [String], maxLiteral: Int = 100, maxLine: Int = 200, maxCommand: Int = .max)
        -> [IMAPCommandFramer.Event]
    {
        var framer = IMAPCommandFramer(maxLineLength: maxLine, maxLiteralSize: maxLiteral, maxCommandSize: maxCommand)
        var buffer = ByteBuffer()
        var events: [IMAPCommandFramer.Event] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let event = framer.next(from: &buffer) { events.append(event) }
        }
        return events
    }

    @Test func aSynchronizingLiteralAsksForContinuation() {
        #expect(
            events(["a LOGIN {5}\r\n", "alice", " x\r\n"]) == [
                .continuationNeeded(size: 5),
                .command([.line(Array("a LOGIN ".utf8)), .literal(Array("alice".utf8)), .line(Array(" x".utf8))]),
            ])
    }

    @Test func literalPlusDoesNotAndLiteralsMayHoldCRLFAndBraces() {
        #expect(
            events(["a APPEND X {5+}\r\n{1}\r\n\r\n"]) == [
                .command([.line(Array("a APPEND X ".utf8)), .literal(Array("{1}\r\n".utf8)), .line([])])
            ])
    }

    @Test func literalsMaySplitAnywhere() {
        let whole = events(["a LOGIN {5+}\r\nalice x\r\n"])
        let split = events(["a LOGIN {", "5+}\r", "\nal", "ice", " x\r", "\n"])
        #expect(whole == split && whole.count == 1)
    }

    @Test func aLiteralOverTheLimitIsRefusedBeforeItsOctetsCome() {
        #expect(
            events(["a APPEND X {101}\r\n"]) == [
                .literalTooLarge(firstLine: Array("a APPEND X {101}".utf8), synchronizing: true)
            ])
        #expect(
            events(["a APPEND X {1000+}\r\n"]) == [
                .literalTooLarge(firstLine: Array("a APPEND X {1000+}".utf8), synchronizing: false)
            ])
        #expect(events(["a APPEND X {99999999999}\r\n"]).count == 1, "absurd sizes do not overflow")
    }

    @Test func longLinesAreDroppedAndTheirStartIsKeptForTheTag() {
        #expect(
            events([String(repeating: "x", count: 300) + "\r\na NOOP\r\n"]) == [
                .lineTooLong(firstLine: Array(String(repeating: "x", count: 64).utf8)),
                .command([.line(Array("a NOOP".utf8))]),
            ])
        // Trickled in: the start is kept from the first read, before the line was known to be too long.
        #expect(
            events(["t1 UID FETCH 1", String(repeating: ",1", count: 150), String(repeating: ",2", count: 50) + "\r\n"])
                == [.lineTooLong(firstLine: Array(("t1 UID FETCH 1" + String(repeating: ",1", count: 25)).utf8))])
        // A too-long line after a literal belongs to the command its first line began.
        #expect(
            events(["a LOGIN {3+}\r\nbob " + String(repeating: "y", count: 300) + "\r\n"]) == [
                .lineTooLong(firstLine: Array("a LOGIN ".utf8))
            ])
    }

    /// A literal at or over the streaming size is handed on in chunks as they arrive, never collected.
    @Test func largeLiteralsAreStreamed() {
        var framer = IMAPCommandFramer(maxLineLength: 200, maxLiteralSize: 1000, maxCommandSize: 300)
        framer.streamLiteralsFrom = 10
        var buffer = ByteBuffer(string: "a APPEND INBOX {12}\r\nhello ")
        var events: [IMAPCommandFramer.Event] = []
        while let event = framer.next(from: &buffer) { events.append(event) }
        buffer.writeString("world!\r\nb NOOP\r\n")
        while let event = framer.next(from: &buffer) { events.append(event) }
        #expect(
            events == [
                .literalStreamStarted(head: [.line(Array("a APPEND INBOX ".utf8))], size: 12, synchronizing: true),
                .literalChunk(ByteBuffer(string: "hello ")), .literalChunk(ByteBuffer(string: "world!")),
                .command([.line(Array("a APPEND INBOX ".utf8)), .streamedLiteral(size: 12), .line([])]),
                .command([.line(Array("b NOOP".utf8))]),
            ])
    }

    /// Literals that are each within the limit cannot add up to more than a command may be.
    @Test func aCommandsLiteralsCannotAddUpPastTheCommandLimit() {
        #expect(
            events(["a LOGIN {50+}\r\n" + String(repeating: "u", count: 50) + " {50+}\r\n"], maxCommand: 90) == [
                .literalTooLarge(firstLine: Array("a LOGIN ".utf8), synchronizing: false)
            ])
        #expect(
            events(
                [
                    "a LOGIN {30+}\r\n" + String(repeating: "u", count: 30) + " {30+}\r\n"
                        + String(repeating: "p", count: 30) + "\r\n"
                ], maxCommand: 90
            ).count == 1,
            "within the limit: one command")
    }

    @Test func braceTextThatIsNotALiteralStaysText() {
        #expect(events(["a SEARCH SUBJECT {x}\r\n"]) == [.command([.line(Array("a SEARCH SUBJECT {x}".utf8))])])
    }
}
