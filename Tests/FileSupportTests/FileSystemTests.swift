import FileSupport
import Foundation
import Testing

@Suite struct FileSystemTests {
    /// `list` once copied readdir's whole 256-octet name array, reading past a short record at the end of
    /// glibc's buffer; the server crashed under load listing the spool. Whether that read hits an unmapped
    /// page depends on the heap, so no test can make it crash on demand; this one checks that names of every
    /// length, read in place now, come back whole.
    @Test func listReturnsNamesOfEveryLength() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/relaygate-list-\(UUID().uuidString)"
        try FileSystem.makeDirectory(directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = Set((1...255).map { String(repeating: "n", count: $0 - 1) + "\($0 % 10)" })
        for name in names {
            FileSystem.closeDescriptor(try FileSystem.createExclusive(directory + "/" + name))
        }
        #expect(Set(try FileSystem.list(directory)) == names)
    }

    @Test func errorsNameTheOperationAndPath() {
        #expect(throws: FileSystemError(operation: "opendir", path: "/nonexistent/x", code: ENOENT)) {
            try FileSystem.list("/nonexistent/x")
        }
        #expect(
            "\(FileSystemError(operation: "opendir", path: "/x", code: ENOENT))"
                == "opendir /x: No such file or directory")
    }
}
