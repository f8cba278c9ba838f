import FileSupport
import Foundation
import Testing

@testable import Spool

@Suite struct FileRecyclerTests {
    func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-recycler-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path + "/tmp", withIntermediateDirectories: true)
        return path
    }

    func inode(_ path: String) -> UInt? {
        var status = stat()
        return stat(path, &status) == 0 ? UInt(status.st_ino) : nil
    }

    func write(_ text: String, to path: String, with recycler: FileRecycler) throws {
        let fd = try recycler.create(path)
        defer { close(fd) }
        try Array(text.utf8).withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: path) }
    }

    @Test func aRetiredFileIsReusedEmptyInsteadOfANewOne() throws {
        let root = try directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let recycler = FileRecycler(directory: root + "/tmp")
        try write("an old message, longer than the new one", to: root + "/first", with: recycler)
        let used = inode(root + "/first")
        recycler.retire(root + "/first")
        #expect(!FileManager.default.fileExists(atPath: root + "/first"), "gone from its directory, as unlink would")
        #expect(recycler.count == 1)

        try write("new", to: root + "/second", with: recycler)
        #expect(inode(root + "/second") == used, "the same file, not a new inode")
        #expect(try String(contentsOfFile: root + "/second", encoding: .utf8) == "new", "nothing old survives")
        #expect(recycler.count == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
    }

    @Test func largeFilesAndFilesBeyondTheCapacityAreDeleted() throws {
        let root = try directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let recycler = FileRecycler(directory: root + "/tmp", capacity: 2, largestKept: 10)
        try write(String(repeating: "x", count: 11), to: root + "/large", with: recycler)
        recycler.retire(root + "/large")
        #expect(recycler.count == 0)
        for name in ["a", "b", "c"] {
            try write(name, to: root + "/" + name, with: recycler)
        }
        for name in ["a", "b", "c"] { recycler.retire(root + "/" + name) }
        #expect(recycler.count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["tmp"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").count == 2)
    }

    @Test func aFileWithAnotherNameIsOnlyUnlinked() throws {
        let root = try directory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let recycler = FileRecycler(directory: root + "/tmp")
        try write("body and envelope", to: root + "/body", with: recycler)
        try FileSystem.hardLink(root + "/body", as: root + "/envelope")
        recycler.retire(root + "/envelope")
        #expect(recycler.count == 0, "reusing it would give the body's file to a new writer")
        #expect(!FileManager.default.fileExists(atPath: root + "/envelope"))
        #expect(try String(contentsOfFile: root + "/body", encoding: .utf8) == "body and envelope")
        recycler.retire(root + "/body")
        #expect(recycler.count == 1, "its last name: now it may be reused")
    }
}
