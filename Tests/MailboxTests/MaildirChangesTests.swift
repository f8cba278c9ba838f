import FileSupport
import Foundation
import Mailbox
import Testing

/// What IMAP will change in folders: flags, APPEND, COPY, folder management and subscriptions.
@Suite struct MaildirChangesTests {
    let root = FileManager.default.temporaryDirectory.path + "/relaygate-changes-\(UUID().uuidString)"
    var store: MailboxStore { MailboxStore(root: root) }

    func files(_ folder: MaildirFolder, _ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path + "/" + directory)) ?? []).sorted()
    }

    @Test func flagsAreRenamesIntoCur() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.createMailbox("alice")
        let inbox = store.inbox(of: "alice")
        try Data("m\r\n".utf8).write(to: URL(fileURLWithPath: inbox.path + "/new/1.a.host"))
        let message = try #require(try inbox.snapshot().messages.first)
        let seen = try #require(try inbox.setFlags(message, to: [.seen, .flagged]))
        #expect(files(inbox, "new").isEmpty && files(inbox, "cur") == ["1.a.host:2,FS"])
        #expect(!seen.isNew && seen.flags == [.seen, .flagged])
        // Another session set flags meanwhile (and a keyword letter): found by base name, the letter kept.
        try FileManager.default.moveItem(
            atPath: inbox.path + "/cur/1.a.host:2,FS", toPath: inbox.path + "/cur/1.a.host:2,Sa")
        _ = try inbox.setFlags(seen, to: [.deleted])
        #expect(files(inbox, "cur") == ["1.a.host:2,Ta"])
        #expect(try inbox.snapshot().messages.map(\.uid) == [1], "a flag change keeps the UID")
        try FileManager.default.removeItem(atPath: inbox.path + "/cur/1.a.host:2,Ta")
        #expect(try inbox.setFlags(seen, to: []) == nil, "a message gone is reported, not an error")
    }

    /// Two sessions that looked at the same message: A adds \Answered, then B (whose view still has \Seen
    /// and no \Answered) takes \Seen away. Both changes survive, because each applies to the file's
    /// flags now, not to what its session saw.
    @Test func concurrentFlagChangesAreBothKept() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.createMailbox("alice")
        let inbox = store.inbox(of: "alice")
        try Data("m\r\n".utf8).write(to: URL(fileURLWithPath: inbox.path + "/cur/1.a.host:2,S"))
        let seenByA = try #require(try inbox.snapshot().messages.first)
        let seenByB = seenByA
        _ = try inbox.changeFlags([seenByA]) { .init(system: $0.system.union(.answered), keywords: $0.keywords) }
        let result = try inbox.changeFlags([seenByB]) {
            .init(system: $0.system.subtracting(.seen), keywords: $0.keywords)
        }
        #expect(result.messages.first??.flags == [.answered])
        #expect(files(inbox, "cur") == ["1.a.host:2,R"])
    }

    /// Keywords are kept as Dovecot keeps them: `dovecot-keywords` numbers them, a file name carries a
    /// letter each; a copy gets the destination's own letters; other programs' letters stay.
    @Test func keywordsAreKeptInDovecotsFormat() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.createMailbox("alice")
        let inbox = store.inbox(of: "alice")
        let archive = try FolderName("Archive")
        try store.createFolder(archive, of: "alice")
        let target = store.folder(archive, of: "alice")
        // The archive already knows a keyword, so the same name gets another letter there.
        try Data("0 Other\n".utf8).write(to: URL(fileURLWithPath: target.path + "/dovecot-keywords"))
        _ = try inbox.append(
            Array("one\r\n".utf8), flags: [.seen], keywords: ["$Junk"], internalDate: nil, hostname: "mx")
        let message = try #require(try inbox.snapshot().messages.first)
        #expect(message.name.curName.hasSuffix(":2,Sa"))
        #expect(
            String(
                decoding: try Data(contentsOf: URL(fileURLWithPath: inbox.path + "/dovecot-keywords")), as: UTF8.self)
                == "0 $Junk\n")
        let (changed, table) = try inbox.changeFlags([message]) {
            .init(system: $0.system, keywords: $0.keywords + ["$label1", "$junk"])
        }
        let now = try #require(changed[0])
        #expect(now.name.keywords(in: table) == ["$Junk", "$label1"], "a keyword matches whatever its case")
        _ = try inbox.copy([now], to: target, hostname: "mx")
        let copied = try #require(try target.snapshot().messages.first)
        #expect(copied.name.curName.hasSuffix(":2,Sbc"))
        #expect(copied.name.keywords(in: try target.loadKeywords()) == ["$Junk", "$label1"])
    }

    /// APPEND and COPY make a message recent (RFC 3501 2.3.2), like delivery to new/: for the first
    /// read-write session that looks, and no other; a read-only look claims nothing.
    @Test func appendedMessagesAreRecentOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.createMailbox("alice")
        let inbox = store.inbox(of: "alice")
        _ = try inbox.snapshot(claimingRecent: true)
        _ = try inbox.append(Array("one\r\n".utf8), flags: [.seen], internalDate: nil, hostname: "mx")
        let peek = try inbox.snapshot()
        #expect(peek.messages.filter(peek.isRecent).count == 1)
        let first = try inbox.snapshot(claimingRecent: true)
        #expect(first.messages.filter(first.isRecent).count == 1, "recent for the first read-write look")
        let second = try inbox.snapshot(claimingRecent: true)
        #expect(second.messages.filter(second.isRecent).isEmpty, "and for no later one")
    }

    /// RFC 3501 2.3.1.1: a name's UIDVALIDITY never repeats, even when the folder is deleted and created
    /// again within the same second (imaptest's uidvalidity test did just that).
    @Test func aFolderCreatedAgainGetsANewUIDValidity() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let name = try FolderName("Work")
        try store.createFolder(name, of: "alice")
        let first = try store.folder(name, of: "alice").snapshot().uidValidity
        try store.deleteFolder(name, of: "alice")
        try store.createFolder(name, of: "alice")
        let second = try store.folder(name, of: "alice").snapshot().uidValidity
        #expect(second > first)
    }

    @Test func aFullKeywordTableKeepsTheOldAndDropsTheNew() {
        var table = MaildirKeywords()
        for number in 0..<26 { #expect(table.letter(assigning: "k\(number)") != nil) }
        #expect(table.isFull)
        #expect(table.letter(assigning: "one-too-many") == nil)
        #expect(table.letter(assigning: "K3") == "d", "known names still have their letter")
        #expect(MaildirKeywords(text: table.text) == table, "the file reads back as written")
        #expect(MaildirKeywords(text: "0 a\nbad line\n30 far\n2 c\n").all == ["a", "c"])
    }

    @Test func appendGivesTheNextUIDAndKeepsTheDate() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.createMailbox("alice")
        let inbox = store.inbox(of: "alice")
        try Data("old\r\n".utf8).write(to: URL(fileURLWithPath: inbox.path + "/new/1.a.host"))
        _ = try inbox.snapshot()
        let uid = try inbox.append(
            Array("Subject: a\n\nbody\n".utf8), flags: [.seen], internalDate: 837_596_665, hostname: "mx")
        let snapshot = try inbox.snapshot()
        #expect(uid.uid == 2 && uid.uidValidity == snapshot.uidValidity)
        let appended = try #require(snapshot.messages.last)
        #expect(appended.uid == 2 && appended.flags == [.seen] && appended.size == 20, "17 octets, 3 bare LFs")
        #expect(inbox.internalDate(of: appended) == 837_596_665)
        #expect(files(inbox, "tmp").isEmpty)
    }

    @Test func copyLinksAndNumbersInTheDestination() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.createMailbox("alice")
        let inbox = store.inbox(of: "alice")
        let archive = try FolderName("Archive")
        try store.createFolder(archive, of: "alice")
        let target = store.folder(archive, of: "alice")
        _ = try inbox.append(Array("one\r\n".utf8), flags: [.flagged], internalDate: 1_000_000, hostname: "mx")
        _ = try inbox.append(Array("two\r\n".utf8), flags: [], internalDate: nil, hostname: "mx")
        let messages = try inbox.snapshot().messages
        try inbox.delete([messages[1]])
        #expect(
            try inbox.copy(messages, to: target, hostname: "mx").map { $0?.uid } == [1, nil],
            "a message gone is skipped")
        let copied = try #require(try target.snapshot().messages.first)
        #expect(copied.flags == [.flagged] && copied.size == 5)
        #expect(target.internalDate(of: copied) == 1_000_000)
        try inbox.delete([messages[0]])
        #expect(try target.snapshot().messages.count == 1, "the copy outlives the original")
    }

    @Test func foldersAreCreatedRenamedAndDeleted() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let work = try FolderName("Work")
        let child = try FolderName("Work.2024")
        try store.createFolder(work, of: "alice")
        try store.createFolder(child, of: "alice")
        #expect(throws: MailboxStore.FolderProblem.exists(work)) { try store.createFolder(work, of: "alice") }
        #expect(throws: MailboxStore.FolderProblem.self) { try store.createFolder(.inbox, of: "alice") }
        #expect(FileManager.default.fileExists(atPath: store.folder(work, of: "alice").path + "/maildirfolder"))

        let jobs = try FolderName("Jobs")
        try store.renameFolder(work, to: jobs, of: "alice")
        #expect(try store.folders(of: "alice").map(\.name) == ["INBOX", "Jobs", "Jobs.2024"], "children move too")
        #expect(throws: MailboxStore.FolderProblem.missing(work)) {
            try store.renameFolder(work, to: jobs, of: "alice")
        }
        #expect(throws: MailboxStore.FolderProblem.inbox("INBOX cannot be renamed")) {
            try store.renameFolder(.inbox, to: work, of: "alice")
        }

        try store.deleteFolder(jobs, of: "alice")
        #expect(try store.folders(of: "alice").map(\.name) == ["INBOX", "Jobs.2024"])
        #expect(throws: MailboxStore.FolderProblem.inbox("INBOX cannot be deleted")) {
            try store.deleteFolder(.inbox, of: "alice")
        }
    }

    @Test func subscriptionsPersist() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try store.setSubscribed("Sent", true, of: "alice")
        try store.setSubscribed("Trash", true, of: "alice")
        try store.setSubscribed("Sent", false, of: "alice")
        #expect(store.subscriptions(of: "alice") == ["Trash"])
    }
}
