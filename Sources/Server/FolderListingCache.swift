import IMAPProtocol
import Mailbox
import Synchronization

/// One copy of a folder's listing for every session that has it selected. Sessions each list the folder
/// themselves, but when the listing is the same as the one kept here they take the kept arrays instead of
/// their own; Swift's arrays share storage until one is changed, so a hundred idle clients on a
/// 10,000-message INBOX hold one listing, not a hundred.
public final class FolderListingCache: Sendable {
    struct Listing: Sendable {
        var messages: [MaildirFolder.Message]
        var recent: Set<UInt32>
        var keywords: MaildirKeywords
        var views: [MessageView]
    }

    private let listings = Mutex<[String: Listing]>([:])
    /// Folders kept at most; beyond it the cache starts over (it only saves memory, never changes answers).
    private let capacity: Int

    public init(capacity: Int = 256) {
        self.capacity = capacity
    }

    /// The kept listing if it equals this one, else this one (kept from now on).
    func share(
        folder path: String, messages: [MaildirFolder.Message], recent: Set<UInt32>, keywords: MaildirKeywords = .init()
    ) -> Listing {
        if let kept = listings.withLock({ $0[path] }), kept.recent == recent, kept.keywords == keywords,
            kept.messages == messages
        {
            return kept
        }
        let listing = Listing(
            messages: messages, recent: recent, keywords: keywords,
            views: messages.map {
                MessageView(
                    uid: $0.uid, flags: IMAPMailboxWork.names($0, keywords), recent: recent.contains($0.uid),
                    size: $0.size)
            })
        listings.withLock { listings in
            if listings.count >= capacity && listings[path] == nil { listings.removeAll() }
            listings[path] = listing
        }
        return listing
    }
}
