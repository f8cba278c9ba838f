import FileSupport
import Foundation
import Spool
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The handle delivery reads content through: exactly `length` octets, never fewer.
@Suite struct MessageContentTests {
    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("content-\(UUID().uuidString)").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func theContentIsItsFirstLengthOctetsAndAPrefixIsBounded() throws {
        let path = try file("Subject: x\r\n\r\nbody\r\n<envelope record after the content>")
        defer { unlink(path) }
        let content = MessageContent(file: path, length: 20)
        #expect(String(decoding: try content.bytes(), as: UTF8.self) == "Subject: x\r\n\r\nbody\r\n")
        #expect(try content.prefix(7) == Array("Subject".utf8))
        #expect(try content.prefix(1000).count == 20)
    }

    /// A queued file shorter than its envelope says (a damaged disk, a hand edit) is refused before a
    /// single octet goes out, rather than sent cut short.
    @Test func aFileShorterThanTheLengthIsRefused() throws {
        let path = try file("Subject: x\r\n")
        defer { unlink(path) }
        #expect(throws: ShortContent.self) { try MessageContent(file: path, length: 100).openDescriptor() }
    }
}
