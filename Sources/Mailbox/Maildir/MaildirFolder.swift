import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One folder of a mailbox: a Maildir (tmp/, new/, cur/) and its `UIDList`. Blocking file I/O: run it off
/// the event loops.
///
/// Several POP3 and IMAP sessions, local delivery and other programs (a user's own tools) may touch a folder
/// at once. What keeps them apart:
/// - Messages are only ever added by rename (tmp/ to new/ or cur/) and changed by rename (new flags), so a
///   reader sees a whole message or none.
/// - UIDs are given out under an exclusive `flock` on `relaygate-uidlist.lock`, and the list is replaced by
///   rename, so two sessions never give one UID to two messages.
/// - A file that another session renamed (new flags) is found again by its base name; one that is gone is
///   simply gone from the next snapshot.
public struct MaildirFolder: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    static let uidListName = "relaygate-uidlist"
    static let lockName = "relaygate-uidlist.lock"

    /// Creates the folder's directories if they are missing.
    public func create() throws(FileSystemError) {
        for directory in [path, path + "/tmp", path + "/new", path + "/cur"] {
            try FileSystem.makeDirectory(directory)
        }
    }

    public var exists: Bool { FileSystem.exists(path + "/cur") }

    /// A message as one snapshot saw it.
    public struct Message: Sendable, Equatable {
        public let uid: UInt32
        /// Octets with CRLF line ends.
        public let size: Int
        /// The file's name when the snapshot was taken (another session may rename it since).
        public var name: MaildirFileName
        /// In new/: delivered and not yet seen by any reader (IMAP's \Recent).
        public var isNew: Bool

        public var flags: MessageFlags { name.flags }
    }

    public struct Snapshot: Sendable {
        public var uidValidity: UInt32
        public var uidNext: UInt32
        /// In UID order.
        public var messages: [Message]
        /// What the messages' keyword letters stand for.
        public var keywords = MaildirKeywords()
        /// Messages from this UID on had not been seen by a read-write session before this snapshot.
        public var firstRecent: UInt32 = .max

        /// IMAP's \Recent: delivered to new/ and not yet taken, or added (APPEND, COPY, a file from another
        /// program) since the last read-write session looked.
        public func isRecent(_ message: Message) -> Bool { message.isNew || message.uid >= firstRecent }
    }

    /// Lists the folder under its lock: files that appeared (from delivery or any other program) get the next
    /// UIDs, files that went are dropped, and the UID list is rewritten if anything changed. A read-write
    /// IMAP session `claimingRecent` makes the messages recent for it and for no later session.
    public func snapshot(claimingRecent: Bool = false, now: () -> Int = wallClockSeconds) throws(FileSystemError)
        -> Snapshot
    {
        try withLock { () throws(FileSystemError) -> Snapshot in
            // new/ before cur/: a file moving from new/ to cur/ meanwhile is then seen in cur/, never missed.
            let fresh = try FileSystem.list(path + "/new")
            let current = try FileSystem.list(path + "/cur")
            var files: [String: (name: MaildirFileName, isNew: Bool)] = [:]
            files.reserveCapacity(fresh.count + current.count)
            for entry in fresh { if let name = MaildirFileName(entry) { files[name.base] = (name, true) } }
            for entry in current { if let name = MaildirFileName(entry) { files[name.base] = (name, false) } }

            var list = loadList(now: now)
            var known = Set<String>(minimumCapacity: list.entries.count)
            for entry in list.entries { known.insert(entry.base) }
            // Only new files need their time (it orders their UIDs); a stat per known file would cost a
            // large folder dearly.
            let found = files.map { base, file in
                UIDList.Found(base: base, modified: known.contains(base) ? 0 : modified(file))
            }
            var changed = list.reconcile(with: found) { base in
                guard let file = files[base] else { return nil }
                return file.name.wireSize ?? measureWireSize(file)
            }
            let firstRecent = list.firstRecent
            if claimingRecent && list.firstRecent != list.uidNext {
                list.firstRecent = list.uidNext
                changed = true
            }
            if changed || !FileSystem.exists(path + "/" + Self.uidListName) { try save(list) }
            let messages = list.entries.compactMap { entry -> Message? in
                guard let file = files[entry.base] else { return nil }
                return Message(uid: entry.uid, size: entry.size, name: file.name, isNew: file.isNew)
            }
            return Snapshot(
                uidValidity: list.uidValidity, uidNext: list.uidNext, messages: messages, keywords: try loadKeywords(),
                firstRecent: firstRecent)
        }
    }

    /// The message's file, opened for reading, found again by its base name if another session renamed it.
    /// Nil if it is gone.
    public func open(_ message: Message) -> Int32? {
        let fd = Glibc.open(path + "/" + relativePath(message.name, isNew: message.isNew), O_RDONLY | O_CLOEXEC)
        if fd >= 0 || errno != ENOENT { return fd >= 0 ? fd : nil }
        // Renamed since the snapshot (only then: listing the directory costs as much as the folder is big).
        for relative in locate(message.name.base) {
            let fd = Glibc.open(path + "/" + relative, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
        }
        return nil
    }

    /// Deletes messages, wherever another session may have renamed them. One already gone counts as deleted.
    public func delete(_ messages: [Message]) throws(FileSystemError) {
        for message in messages {
            let original = path + "/" + relativePath(message.name, isNew: message.isNew)
            if unlink(original) == 0 { continue }
            guard errno == ENOENT else { throw FileSystemError(operation: "unlink", path: original, code: errno) }
            for relative in locate(message.name.base) where unlink(path + "/" + relative) != 0 && errno != ENOENT {
                throw FileSystemError(operation: "unlink", path: path + "/" + relative, code: errno)
            }
        }
    }

    // MARK: Writing a message

    /// Writes a message in: `prefix` (header fields we add), then the first `length` octets of `source`, to
    /// tmp/, fsynced, then renamed into new/ with its sizes in the name, and new/ fsynced. Returns the base
    /// name. A source that ends sooner fails with EIO: a damaged queued message is never delivered cut short.
    public func deliver(prefix: [UInt8], source: Int32, length: Int, hostname: String) throws(FileSystemError)
        -> String
    {
        let unique = MaildirFolder.uniqueName(hostname: hostname)
        let temporary = path + "/tmp/" + unique
        let target = try FileSystem.createExclusive(temporary)
        var counter = LineEndCounter()
        do throws(FileSystemError) {
            defer { FileSystem.closeDescriptor(target) }
            counter.count(prefix[...])
            try FileSystem.writeAll(target, prefix, path: temporary)
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            var remaining = length
            while remaining > 0 {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, min($0.count, remaining)) }
                if count < 0 && errno == EINTR { continue }
                try FileSystem.check(Int32(clamping: count), "read", "the queued message")
                if count == 0 { throw FileSystemError(operation: "read", path: "the queued message", code: EIO) }
                remaining -= count
                counter.count(buffer[..<count])
                try FileSystem.writeAll(target, buffer, count: count, path: temporary)
            }
            try FileSystem.sync(target, path: temporary)
        } catch {
            FileSystem.remove(temporary)
            throw error
        }
        let base = "\(unique),S=\(counter.octets),W=\(counter.wireOctets)"
        do throws(FileSystemError) {
            try FileSystem.move(temporary, to: path + "/new/" + base)
        } catch {
            FileSystem.remove(temporary)
            throw error
        }
        let directory = try FileSystem.openDirectory(path + "/new")
        defer { FileSystem.closeDescriptor(directory) }
        try FileSystem.sync(directory, path: path + "/new")
        return base
    }

    // MARK: Helpers

    func relativePath(_ name: MaildirFileName, isNew: Bool) -> String {
        isNew ? "new/" + name.base : "cur/" + name.curName
    }

    /// Where a base name is now, in cur/ or new/.
    func locate(_ base: String) -> [String] {
        var found: [String] = []
        for directory in ["cur", "new"] {
            for entry in (try? FileSystem.list(path + "/" + directory)) ?? []
            where entry == base || entry.hasPrefix(base + ":") {
                found.append(directory + "/" + entry)
            }
        }
        return found
    }

    func withLock<T>(_ body: () throws(FileSystemError) -> T) throws(FileSystemError) -> T {
        let lockPath = path + "/" + Self.lockName
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try FileSystem.check(fd, "open", lockPath)
        defer { FileSystem.closeDescriptor(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileSystemError(operation: "flock", path: lockPath, code: errno) }
        }
        return try body()
    }

    /// The UID list, or a new one (new UIDVALIDITY) if it is missing or damaged.
    func loadList(now: () -> Int) -> UIDList {
        let listPath = path + "/" + Self.uidListName
        if let bytes = try? FileSystem.readFile(listPath),
            let list = UIDList(text: String(decoding: bytes, as: UTF8.self))
        {
            return list
        }
        return UIDList(uidValidity: UInt32(clamping: max(now(), 1)))
    }

    /// The folder's keyword table (`MaildirKeywords`); empty when it has none. Any other failure to read it
    /// throws: taken for "none", it would be replaced, and every letter under the messages would change
    /// meaning.
    public func loadKeywords() throws(FileSystemError) -> MaildirKeywords {
        do {
            let bytes = try FileSystem.readFile(path + "/" + MaildirKeywords.fileName, limit: 64 * 1024)
            return MaildirKeywords(text: String(decoding: bytes, as: UTF8.self))
        } catch  where error.code == ENOENT {
            return MaildirKeywords()
        }
    }

    /// Replaced by rename, under the folder's lock, before any file carries a letter it gives.
    func saveKeywords(_ table: MaildirKeywords) throws(FileSystemError) {
        try FileSystem.replaceFile(path + "/" + MaildirKeywords.fileName, Array(table.text.utf8))
    }

    func save(_ list: UIDList) throws(FileSystemError) {
        try FileSystem.replaceFile(path + "/" + Self.uidListName, Array(list.text.utf8))
    }

    private func modified(_ file: (name: MaildirFileName, isNew: Bool)) -> Int {
        var info = stat()
        guard stat(path + "/" + relativePath(file.name, isNew: file.isNew), &info) == 0 else { return 0 }
        return Int(info.st_mtim.tv_sec)
    }

    /// Reads a file that came without a `,W=` size (put there by another program) to count its CRLF size.
    private func measureWireSize(_ file: (name: MaildirFileName, isNew: Bool)) -> Int? {
        let fd = Glibc.open(path + "/" + relativePath(file.name, isNew: file.isNew), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { FileSystem.closeDescriptor(fd) }
        var counter = LineEndCounter()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return counter.wireOctets }
            counter.count(buffer[..<count])
        }
    }

    /// A name unique on this host (the Maildir convention: time, then what makes it unique here, then the
    /// host name with `/` and `:` written as `\057` and `\072`).
    static func uniqueName(hostname: String) -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let host = hostname.map { $0 == "/" ? "\\057" : $0 == ":" ? "\\072" : String($0) }.joined()
        let random = UInt64.random(in: 0...UInt64.max)
        return "\(time.tv_sec).M\(time.tv_nsec / 1000)P\(getpid())R\(String(random, radix: 16)).\(host)"
    }

    public static func wallClockSeconds() -> Int { Int(time(nil)) }
}

/// Counts octets and what they come to with every line ending as CRLF (a bare LF counts one more).
struct LineEndCounter {
    private(set) var octets = 0
    private(set) var bareLineFeeds = 0
    private var previous: UInt8 = 0

    var wireOctets: Int { octets + bareLineFeeds }

    mutating func count(_ bytes: ArraySlice<UInt8>) {
        octets += bytes.count
        for byte in bytes {
            if byte == 10 && previous != 13 { bareLineFeeds += 1 }
            previous = byte
        }
    }
}
