import FileSupport
import IMAPProtocol
import Logging
import Mailbox

#if canImport(Glibc)
    import Glibc
#endif

/// Carries out one IMAP session's `IMAPRequest`s on the user's mailbox. Blocking file work: the driver runs
/// `perform` on the thread pool, one request at a time per session (the session waits for each result), so
/// the selected folder's state here is never touched by two threads at once.
final class IMAPMailboxWork: @unchecked Sendable {
    let store: MailboxStore
    let mailbox: String
    let hostname: String
    let listings: FolderListingCache
    let logger: Logger
    private var selected: (folder: MaildirFolder, messages: MessagesByUID, keywords: MaildirKeywords, readOnly: Bool)? {
        didSet { if selected?.folder.path != oldValue?.folder.path { lastListing = nil } }
    }
    private var mailboxCreated = false
    /// The selected folder's last listing and the directories' times when it was taken.
    private var lastListing: (stamp: FolderStamp, view: FolderView)?

    init(store: MailboxStore, mailbox: String, hostname: String, listings: FolderListingCache, logger: Logger) {
        self.logger = logger
        self.store = store
        self.mailbox = mailbox
        self.hostname = hostname
        self.listings = listings
    }

    func perform(_ request: IMAPRequest) -> IMAPResult {
        do {
            return try carryOut(request)
        } catch {
            return perform(error: error, request)
        }
    }

    /// The refusal for a request that threw.
    private func perform(error: any Error, _ request: IMAPRequest) -> IMAPResult {
        switch error {
        case let problem as FolderName.Problem:
            return .done(refusal: "[CANNOT] \(problem)")
        case let problem as MailboxStore.FolderProblem:
            switch problem {
            case .missing: return .done(refusal: "[NONEXISTENT] \(problem)")
            case .exists: return .done(refusal: "[ALREADYEXISTS] \(problem)")
            case .inbox: return .done(refusal: "[CANNOT] \(problem)")
            case .file(let error): return failed(error, request)
            }
        default:
            return failed(error, request)
        }
    }

    /// A file operation failed: the operator gets the path and the reason in the log; the client gets
    /// neither (they say where mailboxes live), only that it may try again.
    private func failed(_ error: any Error, _ request: IMAPRequest) -> IMAPResult {
        logger.error(
            "mailbox operation failed", metadata: ["request": "\(Self.name(of: request))", "error": "\(error)"])
        return .done(refusal: "[UNAVAILABLE] The mailbox could not be read or changed; try again later")
    }

    private static func name(of request: IMAPRequest) -> String {
        String(String(describing: request).prefix { $0 != "(" })
    }

    private func carryOut(_ request: IMAPRequest) throws -> IMAPResult {
        if !mailboxCreated {
            // A user whose mail has not arrived yet still gets an (empty) INBOX.
            try store.createMailbox(mailbox)
            mailboxCreated = true
        }
        switch request {
        case .select(let name, let readOnly):
            selected = nil
            let folder = try existing(name)
            let (snapshot, listing) = try list(folder, readOnly: readOnly)
            selected = (folder, MessagesByUID(listing.messages), snapshot.keywords, readOnly)
            return .selected(Self.view(snapshot, listing))
        case .refresh:
            guard let current = selected else { return .done(refusal: "No folder is selected") }
            if let unchanged = lastListing, unchanged.stamp == FolderStamp(current.folder), unchanged.stamp.isSettled {
                // Nothing in new/ or cur/ changed since the last look (an IDLE poll, mostly): no scan.
                return .refreshed(unchanged.view)
            }
            let (snapshot, listing) = try list(current.folder, readOnly: current.readOnly)
            selected?.messages = MessagesByUID(listing.messages)
            selected?.keywords = snapshot.keywords
            return .refreshed(Self.view(snapshot, listing))
        case .list(let pattern, let subscribedOnly):
            return .listed(
                ListEntry.matching(
                    pattern, names: try store.folders(of: mailbox).map(\.name),
                    subscribed: store.subscriptions(of: mailbox), subscribedOnly: subscribedOnly))
        case .status(let name):
            let snapshot = try existing(name).snapshot()
            return .status(view(snapshot, recent: Set(snapshot.messages.filter(snapshot.isRecent).map(\.uid))))
        case .create(let name):
            try store.createFolder(try FolderName(name), of: mailbox)
            return .done(refusal: nil)
        case .delete(let name):
            try store.deleteFolder(try FolderName(name), of: mailbox)
            return .done(refusal: nil)
        case .rename(let from, let to):
            try store.renameFolder(try FolderName(from), to: try FolderName(to), of: mailbox)
            return .done(refusal: nil)
        case .subscribe(let name, let on):
            // Only a folder that exists can be subscribed (RFC 3501 6.3.6 allows the check; Dovecot makes
            // it), so the list holds valid names only; anything may be unsubscribed.
            if on { _ = try existing(name) }
            try store.setSubscribed(on ? try FolderName(name).name : name, on, of: mailbox)
            return .done(refusal: nil)
        case .fetch(let uids, let content, let markSeen):
            guard let current = selected else { return .done(refusal: "No folder is selected") }
            var newFlags: [UInt32: [String]] = [:]
            if markSeen {
                // \Seen is added to the flags the files have now (another session's change stays), for the
                // whole batch under one hold of the lock.
                let unseen = uids.compactMap { current.messages[$0] }.filter { !$0.flags.contains(.seen) }
                let (updated, keywords) = try current.folder.changeFlags(unseen) {
                    .init(system: $0.system.union(.seen), keywords: $0.keywords)
                }
                for case let message? in updated {
                    selected?.messages[message.uid] = message
                    newFlags[message.uid] = Self.names(message, keywords)
                }
            }
            var fetched: [FetchedMessage] = []
            for uid in uids {
                guard let message = selected?.messages[uid], let fd = current.folder.open(message) else { continue }
                defer { close(fd) }
                var info = stat()
                fstat(fd, &info)
                fetched.append(
                    FetchedMessage(
                        uid: uid, internalDate: Int(info.st_mtim.tv_sec), content: content ? readAll(fd) : nil,
                        newFlags: newFlags[uid]))
            }
            return .fetched(fetched)
        case .storeFlags(let uids, let mode, let names):
            guard let current = selected else { return .done(refusal: "No folder is selected") }
            let named = Self.flags(names)
            let change: (MaildirFolder.FlagSet) -> MaildirFolder.FlagSet =
                switch mode {
                // FLAGS replaces what IMAP can see; letters IMAP has no name for (P, passed) stay.
                case .replace:
                    {
                        .init(
                            system: $0.system.subtracting(Self.imapSystemFlags).union(named.system),
                            keywords: named.keywords)
                    }
                case .add: { .init(system: $0.system.union(named.system), keywords: $0.keywords + named.keywords) }
                case .remove:
                    {
                        let gone = Set(named.keywords.map { $0.lowercased() })
                        return .init(
                            system: $0.system.subtracting(named.system),
                            keywords: $0.keywords.filter { !gone.contains($0.lowercased()) })
                    }
                }
            let messages = uids.compactMap { current.messages[$0] }
            let (updated, keywords) = try current.folder.changeFlags(messages, change)
            selected?.keywords = keywords
            var result: [UInt32: [String]] = [:]
            for (message, updated) in zip(messages, updated) {
                guard let updated else { continue }
                selected?.messages[message.uid] = updated
                result[message.uid] = Self.names(updated, keywords)
            }
            return .flagsSet(result)
        case .append(let name, let names, let date, let message):
            let flags = Self.flags(names)
            let folder: MaildirFolder
            do {
                folder = try existing(name)
            } catch MailboxStore.FolderProblem.missing {
                // RFC 3501 6.3.11: the client may create it and try again.
                return .done(refusal: "[TRYCREATE] No folder \(name); create it first")
            }
            let placed = try folder.append(
                message, flags: flags.system, keywords: flags.keywords, internalDate: date, hostname: hostname)
            return .appended(uidValidity: placed.uidValidity, uid: placed.uid)
        case .copy(let uids, let target, let move):
            guard let current = selected else { return .done(refusal: "No folder is selected") }
            guard let destination = try? existing(target) else {
                return .done(refusal: "[TRYCREATE] No folder \(target); create it first")
            }
            let messages = uids.compactMap { current.messages[$0] }
            let placed = try current.folder.copy(messages, to: destination, hostname: hostname)
            let copied = zip(messages, placed).compactMap { message, placed in placed.map { (message, $0) } }
            if move {
                try current.folder.delete(copied.map(\.0))
                for (message, _) in copied { selected?.messages[message.uid] = nil }
            }
            return .copied(
                uidValidity: copied.first?.1.uidValidity ?? 0, source: copied.map(\.0.uid),
                destination: copied.map(\.1.uid))
        case .appendTarget(let name):
            do {
                _ = try existing(name)
            } catch MailboxStore.FolderProblem.missing {
                return .done(refusal: "[TRYCREATE] No folder \(name); create it first")
            }
            return .done(refusal: nil)
        case .appendStreamed:
            preconditionFailure("the driver files a streamed APPEND through appendUploaded, with the file it wrote")
        case .search(let search):
            guard let current = selected else { return .done(refusal: "No folder is selected") }
            let (matching, read) = search.evaluate { uid, content in
                guard let message = current.messages[uid], let fd = current.folder.open(message) else { return nil }
                defer { close(fd) }
                var info = stat()
                fstat(fd, &info)
                return (Int(info.st_mtim.tv_sec), content ? readAll(fd) : nil)
            }
            return .searched(matching: matching, octetsRead: read)
        case .expunge(let uids):
            guard let current = selected else { return .done(refusal: "No folder is selected") }
            let messages = uids.compactMap { current.messages[$0] }
            try current.folder.delete(messages)
            for message in messages { selected?.messages[message.uid] = nil }
            return .expunged(messages.map(\.uid))
        }
    }

    /// A new file for an APPEND's message, written as it arrives, in INBOX's tmp/ (every folder of the
    /// mailbox is on the same file system, so it can be renamed into whichever the command names). The
    /// file is made by its first write, on the pool, after the mailbox (a user no mail has reached yet).
    func beginUpload() -> MaildirUpload {
        let (store, mailbox) = (self.store, self.mailbox)
        return MaildirUpload(in: store.inbox(of: mailbox), hostname: hostname) { () throws(FileSystemError) in
            try store.createMailbox(mailbox)
        }
    }

    /// Files a written APPEND into the folder its command named.
    func appendUploaded(_ upload: MaildirUpload.Finished, to name: String, flags names: [String], date: Int?)
        -> IMAPResult
    {
        do {
            let folder: MaildirFolder
            do {
                folder = try existing(name)
            } catch MailboxStore.FolderProblem.missing {
                FileSystem.remove(upload.path)
                return .done(refusal: "[TRYCREATE] No folder \(name); create it first")
            }
            let flags = Self.flags(names)
            let placed = try folder.append(
                upload, flags: flags.system, keywords: flags.keywords, internalDate: date, hostname: hostname)
            return .appended(uidValidity: placed.uidValidity, uid: placed.uid)
        } catch {
            FileSystem.remove(upload.path)
            return perform(error: error, .appendStreamed(name, flags: names, date: date))
        }
    }

    /// IMAP flag names as a Maildir keeps them: system flags by letter, and keywords (names without a
    /// backslash; `\Recent` and unknown system flags are nobody's to set).
    static func flags(_ names: [String]) -> MaildirFolder.FlagSet {
        MaildirFolder.FlagSet(
            system: names.compactMap(MessageFlags.init(imapName:)).reduce(into: MessageFlags()) { $0.insert($1) },
            keywords: names.filter(MaildirKeywords.isValid))
    }

    static let imapSystemFlags = MessageFlags.imapNames.reduce(into: MessageFlags()) { $0.insert($1.1) }

    /// A message's IMAP flag names: its system flags, then its keywords.
    static func names(_ message: MaildirFolder.Message, _ keywords: MaildirKeywords) -> [String] {
        message.flags.imapNames + message.name.keywords(in: keywords)
    }

    static func view(_ snapshot: MaildirFolder.Snapshot, _ listing: FolderListingCache.Listing) -> FolderView {
        FolderView(
            uidValidity: snapshot.uidValidity, uidNext: snapshot.uidNext, messages: listing.views,
            keywords: snapshot.keywords.all, keywordsFull: snapshot.keywords.isFull)
    }

    /// A folder that exists (INBOX always does).
    private func existing(_ name: String) throws -> MaildirFolder {
        let folderName = try FolderName(name)
        let folder = store.folder(folderName, of: mailbox)
        guard folder.exists else { throw MailboxStore.FolderProblem.missing(folderName) }
        return folder
    }

    /// Lists the folder (a read-write session takes new messages into cur/), sharing the listing with other
    /// sessions that have the same.
    private func list(_ folder: MaildirFolder, readOnly: Bool) throws -> (
        MaildirFolder.Snapshot, FolderListingCache.Listing
    ) {
        let stamp = FolderStamp(folder)
        var snapshot = try folder.snapshot(claimingRecent: !readOnly)
        let recent = Set(snapshot.messages.filter(snapshot.isRecent).map(\.uid))
        if !readOnly { snapshot.messages = try takeNew(snapshot.messages, in: folder) }
        let listing = listings.share(
            folder: folder.path, messages: snapshot.messages, recent: recent, keywords: snapshot.keywords)
        // The stamp is taken before the scan and our own renames (takeNew) change it: the next look scans
        // again once, then settles.
        lastListing = (stamp, Self.view(snapshot, listing))
        return (snapshot, listing)
    }

    /// Moves new messages to cur/: a read-write session has seen them, so \Recent is reported once.
    private func takeNew(_ messages: [MaildirFolder.Message], in folder: MaildirFolder) throws -> [MaildirFolder
        .Message]
    {
        // One hold of the lock for them all: a first look at a folder can find thousands in new/.
        let fresh = messages.filter(\.isNew)
        guard !fresh.isEmpty else { return messages }
        var moved: [UInt32: MaildirFolder.Message] = [:]
        for case let message? in try folder.changeFlags(fresh, { $0 }).messages { moved[message.uid] = message }
        return messages.map { moved[$0.uid] ?? $0 }
    }

    private func view(_ snapshot: MaildirFolder.Snapshot, recent: Set<UInt32>) -> FolderView {
        FolderView(
            uidValidity: snapshot.uidValidity, uidNext: snapshot.uidNext,
            messages: snapshot.messages.map {
                MessageView(
                    uid: $0.uid, flags: Self.names($0, snapshot.keywords), recent: recent.contains($0.uid),
                    size: $0.size)
            }, keywords: snapshot.keywords.all, keywordsFull: snapshot.keywords.isFull)
    }

    /// The message's octets. What we store has CRLF line ends and comes back exactly; a file another program
    /// wrote with bare LFs comes back with CRLF, so its octets agree with RFC822.SIZE (which counts CRLF)
    /// and with IMAP's CRLF lines, as Dovecot does.
    private func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            result += buffer[..<count]
        }
        return Self.withCRLF(result)
    }

    static func withCRLF(_ octets: [UInt8]) -> [UInt8] {
        let bare = octets.indices.contains { octets[$0] == 10 && ($0 == 0 || octets[$0 - 1] != 13) }
        guard bare else { return octets }
        var converted: [UInt8] = []
        converted.reserveCapacity(octets.count + octets.count / 16)
        var previous: UInt8 = 0
        for octet in octets {
            if octet == 10 && previous != 13 { converted.append(13) }
            converted.append(octet)
            previous = octet
        }
        return converted
    }
}

/// A selected folder's messages by UID: a sorted array searched by halves, which costs an idle connection
/// with a 10,000-message folder selected far less memory than a dictionary.
struct MessagesByUID {
    private var messages: [MaildirFolder.Message]

    /// `messages` in UID order, as a snapshot gives them.
    init(_ messages: [MaildirFolder.Message]) {
        self.messages = messages
    }

    private func index(of uid: UInt32) -> Int? {
        var low = 0
        var high = messages.count
        while low < high {
            let middle = (low + high) / 2
            if messages[middle].uid < uid { low = middle + 1 } else { high = middle }
        }
        return low < messages.count && messages[low].uid == uid ? low : nil
    }

    subscript(uid: UInt32) -> MaildirFolder.Message? {
        get { index(of: uid).map { messages[$0] } }
        set {
            guard let index = index(of: uid) else { return }
            if let newValue { messages[index] = newValue } else { messages.remove(at: index) }
        }
    }
}

/// The modification times of a folder's new/ and cur/: any message added, removed or renamed changes one.
/// File system times are coarse (a few milliseconds), so a change just after a look can share the time the
/// look saw; a stamp is trusted only if the directories had not changed for a second when it was taken
/// (`isSettled`).
struct FolderStamp: Equatable {
    var new: timespec
    var cur: timespec
    /// When the stamp was taken (just before the listing it belongs to).
    var taken: timespec

    init(_ folder: MaildirFolder) {
        var info = stat()
        new = stat(folder.path + "/new", &info) == 0 ? info.st_mtim : timespec()
        cur = stat(folder.path + "/cur", &info) == 0 ? info.st_mtim : timespec()
        taken = timespec()
        clock_gettime(CLOCK_REALTIME, &taken)
    }

    var isSettled: Bool { max(new.tv_sec, cur.tv_sec) + 1 < taken.tv_sec }

    /// Same directory times (when they were looked at does not matter).
    static func == (a: FolderStamp, b: FolderStamp) -> Bool {
        a.new.tv_sec == b.new.tv_sec && a.new.tv_nsec == b.new.tv_nsec && a.cur.tv_sec == b.cur.tv_sec
            && a.cur.tv_nsec == b.cur.tv_nsec
    }
}
