import NIOCore
import Testing

@testable import IMAPProtocol

extension IMAPHarness {
    /// Logged in as alice.
    static func loggedIn() -> IMAPHarness {
        var harness = IMAPHarness()
        harness.send("a LOGIN alice secret\r\n")
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        return harness
    }

    static let view = FolderView(
        uidValidity: 77, uidNext: 12,
        messages: [
            MessageView(uid: 3, flags: ["\\Seen"], recent: false, size: 100),
            MessageView(uid: 7, flags: [], recent: true, size: 200),
            MessageView(uid: 11, flags: ["\\Deleted", "\\Seen"], recent: false, size: 300),
        ])

    /// Logged in with INBOX selected (three messages).
    static func selected(readOnly: Bool = false) -> IMAPHarness {
        var harness = loggedIn()
        harness.send("s \(readOnly ? "EXAMINE" : "SELECT") INBOX\r\n")
        _ = harness.finish { $0.requestFinished(.selected(view)) }
        return harness
    }

    /// All octets sent, FETCH responses included, as text.
    mutating func sendAll(_ text: String) -> String {
        sent = ""
        actions = []
        session.receive(ByteBuffer(string: text))
        return drainAll()
    }

    mutating func finishAll(_ event: (inout IMAPSession) -> Void) -> String {
        sent = ""
        actions = []
        event(&session)
        return drainAll()
    }

    private mutating func drainAll() -> String {
        var text = ""
        while let action = session.next() {
            switch action {
            case .send(let line): text += line
            case .sendOctets(let octets): text += String(decoding: octets, as: UTF8.self)
            default: actions.append(action)
            }
        }
        return text
    }
}

@Suite struct IMAPSelectedTests {
    @Test func selectAnnouncesTheFolder() {
        var harness = IMAPHarness.loggedIn()
        harness.send("s SELECT INBOX\r\n")
        #expect(harness.actions == [.request(.select("INBOX", readOnly: false))])
        let reply = harness.finish { $0.requestFinished(.selected(IMAPHarness.view)) }
        #expect(
            reply == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                + "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n"
                + "* 3 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 2] First unseen\r\n* OK [UIDVALIDITY 77] UIDs valid\r\n"
                + "* OK [UIDNEXT 12] Predicted next UID\r\ns OK [READ-WRITE] SELECT completed\r\n")
    }

    /// Keywords are defined flags: FLAGS and PERMANENTFLAGS list the folder's, `\\*` says new ones are
    /// kept until the folder's 26 letters are used up, and a new one is announced when it appears.
    @Test func keywordsAreAnnounced() {
        var harness = IMAPHarness.loggedIn()
        harness.send("s SELECT INBOX\r\n")
        var view = IMAPHarness.view
        view.keywords = ["$Junk"]
        let reply = harness.finish { $0.requestFinished(.selected(view)) }
        #expect(reply.hasPrefix("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk)\r\n"))
        #expect(reply.contains("[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk \\*)]"))
        harness.send("n NOOP\r\n")
        view.keywords.append("$label1")
        view.keywordsFull = true
        #expect(
            harness.finish { $0.requestFinished(.refreshed(view)) }
                == "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk $label1)\r\n"
                + "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Junk $label1)] Flags permitted\r\n"
                + "n OK NOOP completed\r\n")
    }

    @Test func aFailedSelectLeavesNoFolderSelected() {
        var harness = IMAPHarness.selected()
        harness.send("t SELECT Nope\r\n")
        #expect(harness.sent == "* OK [CLOSED] Previous folder closed\r\n")
        #expect(
            harness.finish { $0.requestFinished(.done(refusal: "[NONEXISTENT] No such folder")) }
                == "t NO [NONEXISTENT] No such folder\r\n")
        #expect(harness.send("u FETCH 1 FLAGS\r\n") == "u BAD Select a folder first\r\n")
    }

    @Test func fetchAsksForContentOnlyWhenNeededAndSetsSeen() {
        var harness = IMAPHarness.selected()
        harness.send("f FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n")
        #expect(harness.actions == [.request(.fetch(uids: [3, 7, 11], content: false, markSeen: false))])
        let reply = harness.finishAll {
            $0.requestFinished(
                .fetched([3, 7, 11].map { FetchedMessage(uid: $0, internalDate: 0, content: nil, newFlags: nil) }))
        }
        #expect(
            reply
                == "* 1 FETCH (UID 3 FLAGS (\\Seen) RFC822.SIZE 100)\r\n* 2 FETCH (UID 7 FLAGS (\\Recent) RFC822.SIZE 200)\r\n"
                + "* 3 FETCH (UID 11 FLAGS (\\Deleted \\Seen) RFC822.SIZE 300)\r\nf OK FETCH completed\r\n")

        _ = harness.sendAll("g UID FETCH 7 BODY[]\r\n")
        #expect(harness.actions == [.request(.fetch(uids: [7], content: true, markSeen: true))])
        let body = harness.finishAll {
            $0.requestFinished(
                .fetched([
                    FetchedMessage(
                        uid: 7, internalDate: 837_596_665, content: Array("Subject: x\r\n\r\nbody\r\n".utf8),
                        newFlags: ["\\Seen"])
                ]))
        }
        #expect(
            body
                == "* 2 FETCH (UID 7 BODY[] {20}\r\nSubject: x\r\n\r\nbody\r\n FLAGS (\\Seen \\Recent))\r\ng OK FETCH completed\r\n"
        )

        var readOnly = IMAPHarness.selected(readOnly: true)
        readOnly.send("h FETCH 2 BODY[]\r\n")
        #expect(
            readOnly.actions == [.request(.fetch(uids: [7], content: true, markSeen: false))],
            "EXAMINE never sets \\Seen")
    }

    @Test func fetchSectionsPartialsAndDates() {
        var harness = IMAPHarness.selected()
        _ = harness.sendAll(
            "f FETCH 1 (INTERNALDATE BODY.PEEK[HEADER.FIELDS (subject)] BODY.PEEK[TEXT]<2.3> RFC822.HEADER)\r\n")
        let content = Array("From: a@b\r\nSubject: hi\r\n there\r\n\r\nabcdefg\r\n".utf8)
        let reply = harness.finishAll {
            $0.requestFinished(
                .fetched([FetchedMessage(uid: 3, internalDate: 837_596_665, content: content, newFlags: nil)]))
        }
        #expect(
            reply == "* 1 FETCH (INTERNALDATE \"17-Jul-1996 09:44:25 +0000\" BODY[HEADER.FIELDS (subject)] {23}\r\n"
                + "Subject: hi\r\n there\r\n\r\n BODY[TEXT]<2> {3}\r\ncde RFC822.HEADER {34}\r\nFrom: a@b\r\nSubject: hi\r\n there\r\n\r\n)\r\n"
                + "f OK FETCH completed\r\n")
    }

    @Test func storeChangesFlagsAndReportsThem() {
        var harness = IMAPHarness.selected()
        harness.send("t STORE 2 +FLAGS (\\seen \\Flagged $Custom \\Recent)\r\n")
        #expect(
            harness.actions == [.request(.storeFlags(uids: [7], .add, flags: ["\\Seen", "\\Flagged", "$Custom"]))],
            "the change, not the outcome (the store applies it to the flags the file has now); no \\Recent")
        #expect(
            harness.finish { $0.requestFinished(.flagsSet([7: ["\\Flagged", "\\Seen"]])) }
                == "* 2 FETCH (FLAGS (\\Flagged \\Seen \\Recent))\r\nt OK STORE completed\r\n")
        harness.send("u UID STORE 3 -FLAGS.SILENT (\\Seen)\r\n")
        #expect(harness.actions == [.request(.storeFlags(uids: [3], .remove, flags: ["\\Seen"]))])
        #expect(harness.finish { $0.requestFinished(.flagsSet([3: []])) } == "u OK STORE completed\r\n")
        var readOnly = IMAPHarness.selected(readOnly: true)
        #expect(readOnly.send("v STORE 1 +FLAGS (\\Seen)\r\n") == "v NO [READ-ONLY] The folder is read-only\r\n")
    }

    /// RFC 3501 6.4.8: UID STORE's untagged FETCH responses carry the UID.
    @Test func uidStoreResponsesCarryTheUID() {
        var harness = IMAPHarness.selected()
        harness.send("u UID STORE 11 +FLAGS (\\Flagged)\r\n")
        #expect(
            harness.finish { $0.requestFinished(.flagsSet([11: ["\\Deleted", "\\Flagged", "\\Seen"]])) }
                == "* 3 FETCH (UID 11 FLAGS (\\Deleted \\Flagged \\Seen))\r\nu OK STORE completed\r\n")
    }

    /// STORE and COPY name messages as FETCH does: a sequence number past the folder is an error, not a
    /// silent success.
    @Test func aSequenceNumberPastTheFolderIsBAD() {
        var harness = IMAPHarness.selected()
        #expect(harness.send("a STORE 99 +FLAGS (\\Seen)\r\n") == "a BAD No such message\r\n")
        #expect(harness.send("b COPY 2:99 Trash\r\n") == "b BAD No such message\r\n")
        #expect(harness.send("c FETCH 99 FLAGS\r\n") == "c BAD No such message\r\n")
        harness.send("d UID STORE 99 +FLAGS (\\Seen)\r\n")
        #expect(harness.sent == "d OK STORE completed\r\n", "a UID that is gone is left out")
        #expect(harness.actions.isEmpty)
    }

    @Test func expungeRemovesDeletedMessagesHighestFirst() {
        var harness = IMAPHarness.selected()
        harness.send("x STORE 1 +FLAGS (\\Deleted)\r\n")
        _ = harness.finish { $0.requestFinished(.flagsSet([3: ["\\Deleted", "\\Seen"]])) }
        harness.send("y EXPUNGE\r\n")
        #expect(harness.actions == [.request(.expunge(uids: [3, 11]))])
        #expect(
            harness.finish { $0.requestFinished(.expunged([3, 11])) }
                == "* 3 EXPUNGE\r\n* 1 EXPUNGE\r\ny OK EXPUNGE completed\r\n")
        harness.send("z FETCH 1 UID\r\n")
        #expect(harness.actions == [.request(.fetch(uids: [7], content: false, markSeen: false))], "numbers moved up")
    }

    @Test func closeExpungesSilentlyAndUnselects() {
        var harness = IMAPHarness.selected()
        harness.send("c CLOSE\r\n")
        #expect(harness.actions == [.request(.expunge(uids: [11]))])
        #expect(harness.finish { $0.requestFinished(.expunged([11])) } == "c OK CLOSE completed\r\n")
        #expect(harness.send("d FETCH 1 UID\r\n") == "d BAD Select a folder first\r\n")
    }

    @Test func noopReportsOtherSessionsChanges() {
        var harness = IMAPHarness.selected()
        harness.send("n NOOP\r\n")
        #expect(harness.actions == [.request(.refresh)])
        var changed = IMAPHarness.view
        changed.messages.remove(at: 0)  // expunged elsewhere
        changed.messages[0].flags = ["\\Answered"]  // uid 7 answered elsewhere
        changed.messages.append(MessageView(uid: 12, flags: [], recent: true, size: 50))  // delivered
        changed.uidNext = 13
        #expect(
            harness.finish { $0.requestFinished(.refreshed(changed)) }
                == "* 1 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Answered \\Recent))\r\n* 3 EXISTS\r\n* 2 RECENT\r\nn OK NOOP completed\r\n"
        )
    }

    @Test func listMatchesPatternsAndStatusCounts() {
        var harness = IMAPHarness.loggedIn()
        harness.send("l LIST \"\" %\r\n")
        #expect(harness.actions == [.request(.list(pattern: "%", subscribedOnly: false))], "matched off the loop")
        let names = ["INBOX", "Archive", "Archive.2024", "Sent"]
        func listed(_ pattern: String, subscribed: [String] = ["Sent"], only: Bool = false) -> IMAPResult {
            .listed(ListEntry.matching(pattern, names: names, subscribed: subscribed, subscribedOnly: only))
        }
        #expect(
            harness.finish { $0.requestFinished(listed("%")) }
                == "* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\n* LIST (\\HasChildren) \".\" \"Archive\"\r\n"
                + "* LIST (\\HasNoChildren) \".\" \"Sent\"\r\nl OK LIST completed\r\n")
        harness.send("k LSUB \"\" %\r\n")
        #expect(
            harness.finish { $0.requestFinished(listed("%", subscribed: ["Archive.2024", "Sent"], only: true)) }
                == "* LSUB (\\Noselect) \".\" \"Archive\"\r\n* LSUB () \".\" \"Sent\"\r\nk OK LSUB completed\r\n",
            "% stops short of a subscribed folder: its matching level, \\Noselect (RFC 3501 6.3.9)")
        harness.send("m LIST Archive. *\r\n")
        #expect(harness.actions == [.request(.list(pattern: "Archive.*", subscribedOnly: false))])
        #expect(
            harness.finish { $0.requestFinished(listed("Archive.*")) }.hasPrefix(
                "* LIST (\\HasNoChildren) \".\" \"Archive.2024\"\r\nm OK"))
        #expect(harness.send("r LIST \"\" \"\"\r\n") == "* LIST (\\Noselect) \".\" \"\"\r\nr OK LIST completed\r\n")
        harness.send("o LSUB \"\" *\r\n")
        #expect(
            harness.finish { $0.requestFinished(listed("*", only: true)) }
                == "* LSUB () \".\" \"Sent\"\r\no OK LSUB completed\r\n")
        harness.send("p STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\r\n")
        #expect(
            harness.finish { $0.requestFinished(.status(IMAPHarness.view)) }
                == "* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 1 UIDNEXT 12)\r\np OK STATUS completed\r\n")
        harness.send("q CREATE Work\r\n")
        #expect(harness.actions == [.request(.create("Work"))])
        #expect(harness.finish { $0.requestFinished(.done(refusal: nil)) } == "q OK CREATE completed\r\n")
    }
}

@Suite struct IMAPSearchTests {
    /// The driver's part: the batch is evaluated where the messages are read (here, from `contents`).
    static func carryOut(_ harness: inout IMAPHarness, contents: (UInt32) -> [UInt8]? = { _ in nil }) -> [[UInt32]] {
        var batches: [[UInt32]] = []
        while case .request(.search(let search))? = harness.actions.first {
            batches.append(search.candidates.map(\.message.uid))
            let (matching, read) = search.evaluate { uid, content in (0, content ? contents(uid) : nil) }
            _ = harness.finish { $0.requestFinished(.searched(matching: matching, octetsRead: read)) }
        }
        return batches
    }

    @Test func searchWithoutContentReadsNone() {
        var harness = IMAPHarness.selected()
        harness.send("s SEARCH UNSEEN\r\n")
        guard case .request(.search(let search))? = harness.actions.first else {
            Issue.record("no search request: \(harness.actions)")
            return
        }
        #expect(search.candidates.map(\.sequence) == [1, 2, 3] && search.count == 3 && search.largestUID == 11)
        _ = Self.carryOut(&harness)
        #expect(harness.sent == "* SEARCH 2\r\ns OK SEARCH completed\r\n")
        harness.send("u UID SEARCH OR DELETED LARGER 150 NOT UID 11\r\n")
        _ = Self.carryOut(&harness)
        #expect(harness.sent == "* SEARCH 7\r\nu OK SEARCH completed\r\n")
    }

    @Test func contentKeysGoInBatches() {
        var harness = IMAPHarness.loggedIn()
        harness.send("s SELECT INBOX\r\n")
        let many = (1...450).map { MessageView(uid: UInt32($0), flags: [], recent: false, size: 10) }
        _ = harness.finish { $0.requestFinished(.selected(FolderView(uidValidity: 1, uidNext: 451, messages: many))) }
        harness.send("t SEARCH SUBJECT \"hello\"\r\n")
        let batches = Self.carryOut(&harness) { uid in
            Array("Subject: \(uid % 100 == 0 ? "Hello world" : "other")\r\n\r\nx\r\n".utf8)
        }
        #expect(batches.map(\.count) == [200, 200, 50])
        #expect(harness.sent == "* SEARCH 100 200 300 400\r\nt OK SEARCH completed\r\n")
    }

    /// One SEARCH may read only so much content: past the limit it ends with NO [LIMIT], not a mailbox read
    /// whole.
    @Test func aSearchThatWouldReadTooMuchIsRefused() {
        var configuration = IMAPSession.Configuration(hostname: "mx.test", tlsAvailable: true)
        configuration.maxSearchOctets = 1000
        var harness = IMAPHarness(configuration: configuration)
        harness.send("a LOGIN alice secret\r\n")
        _ = harness.finish { $0.authenticationFinished(.accepted) }
        harness.send("s SELECT INBOX\r\n")
        let many = (1...450).map { MessageView(uid: UInt32($0), flags: [], recent: false, size: 10) }
        _ = harness.finish { $0.requestFinished(.selected(FolderView(uidValidity: 1, uidNext: 451, messages: many))) }
        harness.send("t SEARCH BODY needle\r\n")
        let batches = Self.carryOut(&harness) { _ in Array(repeating: UInt8(ascii: "x"), count: 10) }
        #expect(batches.count == 1, "200 messages of 10 octets are over 1000: the second batch is not asked for")
        #expect(harness.sent.hasPrefix("t NO [LIMIT]"))
    }

    /// The substring search looks at each octet once: its work is linear in the mail it reads, for a
    /// needle that made the naive search compare 50 octets at nearly every position.
    @Test func theSubstringSearchIsLinear() {
        let haystack = Array(repeating: UInt8(ascii: "a"), count: 10_000)[...]
        var steps = 0
        let found = SearchEvaluator.contains(haystack, String(repeating: "a", count: 50) + "b", steps: &steps)
        #expect(!found)
        #expect(steps <= 2 * haystack.count, "\(steps) steps")
        var hit = 0
        #expect(SearchEvaluator.contains(Array("xxAbAbAbC".utf8)[...], "ababc", steps: &hit), "case-insensitive")
    }
}

@Suite struct SearchEvaluatorTests {
    let message = MessageView(uid: 5, flags: ["\\Seen"], recent: true, size: 120)
    let content = Array(
        "Date: Fri, 27 Nov 2026 07:00:00 +0000\r\nFrom: Bob <bob@example.org>\r\nSubject: Lunch\r\n\r\nSee you AT noon\r\n"
            .utf8)

    func matches(_ key: SearchKey) -> Bool {
        SearchEvaluator(key: key, largestUID: 9, count: 3).matches(
            .init(sequence: 2, message: message, internalDate: 837_596_665, content: content))
    }

    /// imaptest's search-addresses: comments inside an address do not hide it from FROM.
    @Test func anAddressWithCommentsIsFoundWithout() {
        let commented = Array("From: <user-from (comment)@ (comment) domain.org>\r\n\r\nx\r\n".utf8)
        let found = SearchEvaluator(key: .header("From", "user-from@domain.org"), largestUID: 9, count: 3).matches(
            .init(sequence: 2, message: message, internalDate: 0, content: commented))
        #expect(found)
    }

    @Test func keys() {
        #expect(matches(.header("From", "BOB@")) && !matches(.header("To", "")) && matches(.header("Subject", "")))
        #expect(matches(.body("at noon")) && !matches(.body("lunch")) && matches(.text("lunch")))
        #expect(
            matches(.on(IMAPDate(year: 1996, month: 7, day: 17)))
                && matches(.before(IMAPDate(year: 1996, month: 7, day: 18))))
        #expect(
            matches(.sentOn(IMAPDate(year: 2026, month: 11, day: 27)))
                && !matches(.sentBefore(IMAPDate(year: 2026, month: 11, day: 27))))
        #expect(matches(.uid(SequenceSet(ranges: [.init(first: .number(5), last: .last)]))))
        #expect(matches(.sequence(SequenceSet(ranges: [.init(first: .last, last: .number(2))]))))
        #expect(
            !matches(.new) && matches(.recent) && !matches(.old) && matches(.larger(119)) && !matches(.smaller(120)))
        #expect(matches(.or(.flag("\\Deleted", set: true), .not(.flag("\\seen", set: false)))))
    }
}

@Suite struct IMAPAppendCopyIdleTests {
    @Test func appendSaysWhereTheMessageLanded() {
        var harness = IMAPHarness.loggedIn()
        harness.send("a APPEND Sent (\\Seen $Junk) {5+}\r\nhello\r\n")
        #expect(
            harness.actions == [
                .request(.append("Sent", flags: ["\\Seen", "$Junk"], date: nil, message: Array("hello".utf8)))
            ])
        #expect(
            harness.finish { $0.requestFinished(.appended(uidValidity: 9, uid: 4)) }
                == "a OK [APPENDUID 9 4] APPEND completed\r\n")
    }

    /// RFC 3501 5.2: a change the session made itself is announced before its command completes, so the
    /// client's next FETCH, SEARCH, COPY or EXPUNGE finds the new message (IMAPClient's live tests failed on
    /// all of these when the EXISTS waited for a NOOP).
    @Test func anAppendToTheSelectedFolderIsAnnouncedBeforeItsOK() {
        var harness = IMAPHarness.selected()
        harness.send("a APPEND INBOX {5+}\r\nhello\r\n")
        #expect(harness.finish { $0.requestFinished(.appended(uidValidity: 77, uid: 12)) } == "")
        #expect(harness.actions == [.request(.refresh)], "its changes are looked for first")
        var changed = IMAPHarness.view
        changed.messages.append(MessageView(uid: 12, flags: [], recent: false, size: 5))
        #expect(
            harness.finish { $0.requestFinished(.refreshed(changed)) }
                == "* 4 EXISTS\r\n* 1 RECENT\r\na OK [APPENDUID 77 12] APPEND completed\r\n")
        _ = harness.sendAll("b FETCH 4 UID\r\n")
        #expect(harness.actions == [.request(.fetch(uids: [12], content: false, markSeen: false))])
    }

    @Test func copyAndMove() {
        var harness = IMAPHarness.selected()
        harness.send("c COPY 1:2 Archive\r\n")
        #expect(harness.actions == [.request(.copy(uids: [3, 7], to: "Archive", move: false))])
        _ = harness.finish { $0.requestFinished(.copied(uidValidity: 5, source: [3, 7], destination: [10, 11])) }
        #expect(harness.actions == [.request(.refresh)])
        #expect(
            harness.finish { $0.requestFinished(.refreshed(IMAPHarness.view)) }
                == "c OK [COPYUID 5 3,7 10,11] COPY completed\r\n")
        harness.send("m UID MOVE 7 Archive\r\n")
        #expect(
            harness.finish { $0.requestFinished(.copied(uidValidity: 5, source: [7], destination: [12])) }
                == "* OK [COPYUID 5 7 12] Moved\r\n* 2 EXPUNGE\r\n")
        var moved = IMAPHarness.view
        moved.messages.remove(at: 1)
        #expect(harness.finish { $0.requestFinished(.refreshed(moved)) } == "m OK MOVE completed\r\n")
        #expect(harness.send("n UID COPY 9 Archive\r\n") == "n OK COPY completed (nothing to do)\r\n")
        #expect(harness.send("p COPY 3 Archive\r\n") == "p BAD No such message\r\n", "two messages are left")
        var readOnly = IMAPHarness.selected(readOnly: true)
        #expect(readOnly.send("o MOVE 1 Archive\r\n") == "o NO [READ-ONLY] The folder is read-only\r\n")
    }

    @Test func idlePushesChangesUntilDone() {
        var harness = IMAPHarness.selected()
        #expect(harness.send("i IDLE\r\n") == "+ idling\r\n")
        #expect(harness.session.isIdling)
        _ = harness.finish { $0.idlePoll() }
        #expect(harness.actions == [.request(.refresh)])
        var changed = IMAPHarness.view
        changed.messages.append(MessageView(uid: 12, flags: [], recent: true, size: 9))
        #expect(harness.finish { $0.requestFinished(.refreshed(changed)) } == "* 4 EXISTS\r\n* 2 RECENT\r\n")
        #expect(harness.session.isIdling, "still idling after a push")
        #expect(harness.send("DONE\r\n") == "i OK IDLE terminated\r\n")
        #expect(!harness.session.isIdling)
        _ = harness.finish { $0.idlePoll() }
        #expect(harness.actions.isEmpty, "no polls once idling ended")
        harness.send("j IDLE\r\n")
        #expect(harness.send("NOOP\r\n") == "j BAD Expected DONE\r\n")
    }
}

@Suite struct IMAPFetchBatchTests {
    @Test func contentFetchesGoInBatches() {
        var harness = IMAPHarness.loggedIn()
        harness.send("s SELECT INBOX\r\n")
        let many = (1...120).map { MessageView(uid: UInt32($0), flags: [], recent: false, size: 3) }
        _ = harness.finish { $0.requestFinished(.selected(FolderView(uidValidity: 1, uidNext: 121, messages: many))) }
        _ = harness.sendAll("f FETCH 1:* BODY.PEEK[]\r\n")
        var batches: [Int] = []
        var responses = 0
        while case .request(.fetch(let uids, true, false))? = harness.actions.first {
            batches.append(uids.count)
            let text = harness.finishAll { session in
                session.requestFinished(
                    .fetched(
                        uids.map {
                            FetchedMessage(uid: $0, internalDate: 0, content: Array("x\r\n".utf8), newFlags: nil)
                        }))
            }
            responses += text.components(separatedBy: " FETCH (").count - 1
            if text.hasSuffix("f OK FETCH completed\r\n") { break }
        }
        #expect(batches == [50, 50, 20] && responses == 120)
    }
}
