import FileSupport
import Foundation
import Mailbox
import Testing

@Suite struct MaildirFolderTests {
    let root = FileManager.default.temporaryDirectory.path + "/relaygate-maildir-\(UUID().uuidString)"

    func makeFolder() throws -> MaildirFolder {
        let store = MailboxStore(root: root)
        try store.createMailbox("alice")
        return store.inbox(of: "alice")
    }

    func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Delivers `body` from a source file that, like a spool file, holds more after it (the envelope).
    func deliver(_ body: String, into folder: MaildirFolder, length: Int? = nil) throws -> String {
        let source = root + "/source-\(UUID().uuidString)"
        try write(body + "\nrelaygate-envelope 1 (not part of the message)\n", to: source)
        let fd = open(source, O_RDONLY)
        defer { close(fd) }
        return try folder.deliver(
            prefix: Array("Delivered-To: alice@example.org\r\n".utf8), source: fd, length: length ?? body.utf8.count,
            hostname: "mx/1:x")
    }

    func contents(_ folder: MaildirFolder, _ message: MaildirFolder.Message) throws -> String {
        let fd = try #require(folder.open(message))
        defer { close(fd) }
        return String(decoding: try FileHandle(fileDescriptor: fd).readToEnd() ?? Data(), as: UTF8.self)
    }

    @Test func aSourceShorterThanItsLengthIsNotDeliveredCutShort() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try makeFolder()
        #expect(throws: FileSystemError.self) { try deliver("Subject: cut\r\n\r\n", into: folder, length: 10_000) }
        #expect(try folder.snapshot(now: { 1_764_230_000 }).messages.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/tmp").isEmpty)
    }

    @Test func deliveredMessagesGetUIDsAndExactSizes() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try makeFolder()
        let base = try deliver("Subject: hi\r\n\r\nbody\r\n", into: folder)
        #expect(base.contains(".mx\\0571\\072x,S=54,W=54"), "host name escaped, sizes in the name: \(base)")
        let snapshot = try folder.snapshot(now: { 1_764_230_000 })
        #expect(snapshot.uidValidity == 1_764_230_000 && snapshot.uidNext == 2)
        let message = try #require(snapshot.messages.first)
        #expect(message.uid == 1 && message.size == 54 && message.isNew && message.flags == [])
        #expect(try contents(folder, message) == "Delivered-To: alice@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
        #expect(FileManager.default.fileExists(atPath: folder.path + "/relaygate-uidlist"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path + "/tmp").isEmpty)

        _ = try deliver("second\r\n", into: folder)
        let later = try folder.snapshot(now: { 9 })
        #expect(later.uidValidity == 1_764_230_000, "UIDVALIDITY stays")
        #expect(later.messages.map(\.uid) == [1, 2])
    }

    @Test func filesFromOtherProgramsArePickedUpAndMeasuredWithCRLF() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try makeFolder()
        // A message with LF line ends, dropped in by some other tool, already read (in cur/, seen).
        try write("Subject: lf\n\nline\n", to: folder.path + "/cur/1700000000.foreign.host:2,S")
        let snapshot = try folder.snapshot()
        let message = try #require(snapshot.messages.first)
        #expect(message.size == 21, "18 octets on disk, three LFs become CRLF")
        #expect(message.flags == .seen && !message.isNew)

        try FileManager.default.removeItem(atPath: folder.path + "/cur/1700000000.foreign.host:2,S")
        #expect(try folder.snapshot().messages.isEmpty, "a file removed by another program is gone")
        #expect(try folder.snapshot().uidNext == 2, "its UID is never given again")
    }

    @Test func aDamagedUIDListStartsOverWithANewUIDValidity() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try makeFolder()
        _ = try deliver("x\r\n", into: folder)
        _ = try folder.snapshot(now: { 100 })
        try write("garbage", to: folder.path + "/relaygate-uidlist")
        let snapshot = try folder.snapshot(now: { 200 })
        #expect(snapshot.uidValidity == 200 && snapshot.messages.map(\.uid) == [1])
    }

    @Test func aMessageRenamedByAnotherSessionIsStillFound() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try makeFolder()
        let base = try deliver("x\r\n", into: folder)
        let message = try #require(try folder.snapshot().messages.first)
        try FileManager.default.moveItem(
            atPath: folder.path + "/new/" + base, toPath: folder.path + "/cur/" + base + ":2,S")
        #expect(try contents(folder, message).hasSuffix("x\r\n"))
        try folder.delete([message])
        #expect(try folder.snapshot().messages.isEmpty)
        try folder.delete([message])  // already gone: fine
    }

    /// Sessions and delivery snapshot the same folder at once; the lock keeps every UID unique.
    @Test func concurrentSnapshotsNeverShareAUID() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = try makeFolder()
        let results = try await withThrowingTaskGroup(of: [String: UInt32].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var seen: [String: UInt32] = [:]
                    for index in 0..<25 {
                        try write("m\(worker)-\(index)\r\n", to: folder.path + "/new/\(worker)-\(index)")
                        for message in try folder.snapshot().messages { seen[message.name.base] = message.uid }
                    }
                    return seen
                }
            }
            var all: [[String: UInt32]] = []
            for try await result in group { all.append(result) }
            return all
        }
        var uidOf: [String: UInt32] = [:]
        for seen in results {
            for (base, uid) in seen {
                #expect(uidOf[base] == nil || uidOf[base] == uid, "\(base) had two UIDs")
                uidOf[base] = uid
            }
        }
        let final = try folder.snapshot()
        #expect(final.messages.count == 100)
        #expect(Set(final.messages.map(\.uid)).count == 100)
    }

    @Test func storeListsFolders() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = MailboxStore(root: root)
        try store.createMailbox("alice")
        try store.folder(try FolderName("Sent"), of: "alice").create()
        try FileSystem.makeDirectory(store.path(of: "alice") + "/.notafolder")
        #expect(try store.folders(of: "alice") == [.inbox, try FolderName("Sent")])
    }
}
