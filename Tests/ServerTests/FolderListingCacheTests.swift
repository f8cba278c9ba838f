import Foundation
import Mailbox
import Testing

@testable import Server

@Suite struct FolderListingCacheTests {
    func messages(_ uids: [UInt32]) -> [MaildirFolder.Message] {
        let root = FileManager.default.temporaryDirectory.path + "/relaygate-cache-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = MailboxStore(root: root)
        try? store.createMailbox("a")
        let folder = store.inbox(of: "a")
        for uid in uids { try? Data("m\(uid)\r\n".utf8).write(to: URL(fileURLWithPath: folder.path + "/new/\(uid).x")) }
        return (try? folder.snapshot().messages) ?? []
    }

    /// Two sessions with the same listing hold one copy of it.
    @Test func equalListingsShareStorageAndChangedOnesReplaceIt() {
        let cache = FolderListingCache()
        let listed = messages([1, 2, 3])
        let first = cache.share(folder: "/f", messages: listed, recent: [1])
        let second = cache.share(folder: "/f", messages: Array(listed), recent: [1])
        #expect(
            first.views.withUnsafeBufferPointer { $0.baseAddress }
                == second.views.withUnsafeBufferPointer { $0.baseAddress })
        #expect(
            first.messages.withUnsafeBufferPointer { $0.baseAddress }
                == second.messages.withUnsafeBufferPointer { $0.baseAddress })
        #expect(second.views.map(\.recent) == [true, false, false])
        let changed = cache.share(folder: "/f", messages: Array(listed.prefix(2)), recent: [1])
        #expect(changed.views.count == 2)
        let noLongerRecent = cache.share(folder: "/f", messages: Array(listed.prefix(2)), recent: [])
        #expect(noLongerRecent.views.allSatisfy { !$0.recent }, "\\Recent is part of what must be equal")
    }
}

@Suite struct IMAPMailboxWorkTests {
    @Test func bareLineFeedsComeBackAsCRLFSoSizesAgree() {
        #expect(IMAPMailboxWork.withCRLF(Array("a\r\nb\n\nc".utf8)) == Array("a\r\nb\r\n\r\nc".utf8))
        #expect(IMAPMailboxWork.withCRLF(Array("as stored\r\n".utf8)) == Array("as stored\r\n".utf8))
    }
}
