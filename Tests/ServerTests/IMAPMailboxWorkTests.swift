import Foundation
import IMAPProtocol
import Logging
import Mailbox
import Testing

@testable import Server

/// What two sessions on one mailbox do to each other's flags, through the real mailbox work.
@Suite struct IMAPTwoSessionTests {
    let root = FileManager.default.temporaryDirectory.path + "/relaygate-work-\(UUID().uuidString)"

    func session() -> IMAPMailboxWork {
        IMAPMailboxWork(
            store: MailboxStore(root: root), mailbox: "alice", hostname: "mx.test", listings: FolderListingCache(),
            logger: Logger(label: "test"))
    }

    /// A FETCH of BODY[] sets \Seen on the flags the file has now: another session's \Answered, set after
    /// this one looked, stays (it was lost when \Seen was added to this session's old view).
    @Test func anImplicitSeenKeepsAnotherSessionsFlags() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = session()
        let b = session()
        guard
            case .appended(_, let uid) = a.perform(.append("INBOX", flags: [], date: nil, message: Array("x\r\n".utf8)))
        else {
            Issue.record("no append")
            return
        }
        _ = a.perform(.select("INBOX", readOnly: false))
        _ = b.perform(.select("INBOX", readOnly: false))
        _ = b.perform(.storeFlags(uids: [uid], .add, flags: ["\\Answered"]))
        guard case .fetched(let fetched) = a.perform(.fetch(uids: [uid], content: true, markSeen: true)) else {
            Issue.record("no fetch")
            return
        }
        #expect(Set(fetched.first?.newFlags ?? []) == ["\\Answered", "\\Seen"])
    }
}
