import FileSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What IMAP changes in a folder: flags (a rename within cur/), new messages (APPEND, COPY), each given its
/// UID at once under the folder's lock so the client can be told it (UIDPLUS, RFC 4315).
extension MaildirFolder {
    /// Sets a message's system flags (its keywords stay): the file moves to cur/ under its new name. Found
    /// again by its base name if another session renamed it meanwhile; nil if it is gone.
    public func setFlags(_ message: Message, to flags: MessageFlags) throws(FileSystemError) -> Message? {
        try changeFlags([message]) { FlagSet(system: flags, keywords: $0.keywords) }.messages[0]
    }

    /// What IMAP calls a message's flags: the system flags, which have letters of their own, and keywords,
    /// which the folder's `MaildirKeywords` gives letters.
    public struct FlagSet: Equatable, Sendable {
        public var system: MessageFlags
        public var keywords: [String]

        public init(system: MessageFlags, keywords: [String] = []) {
            self.system = system
            self.keywords = keywords
        }
    }

    /// Changes messages' flags from what their files say now, not what a session last saw: `change` gets
    /// the current flags. All of it happens under one hold of the folder's lock, so two sessions'
    /// `+FLAGS \Answered` and `-FLAGS \Seen` both survive, and new keywords get their letters (the table
    /// is saved before any file carries them). The result is each message as it is now, or nil where it is
    /// gone, and the keyword table.
    public func changeFlags(_ messages: [Message], _ change: (FlagSet) -> FlagSet) throws(FileSystemError)
        -> (messages: [Message?], keywords: MaildirKeywords)
    {
        try withLock { () throws(FileSystemError) -> ([Message?], MaildirKeywords) in
            var table = try loadKeywords()
            var saved = table
            var result: [Message?] = []
            result.reserveCapacity(messages.count)
            for message in messages {
                result.append(
                    try changeFlags(message) { (name) throws(FileSystemError) -> MaildirFileName in
                        let wanted = change(FlagSet(system: name.flags, keywords: name.keywords(in: table)))
                        var renamed = name
                        renamed.flags = wanted.system
                        renamed.setKeywords(wanted.keywords, in: &table)
                        if table != saved {
                            try saveKeywords(table)
                            saved = table
                        }
                        return renamed
                    })
            }
            return (result, table)
        }
    }

    /// One message, renamed to what `rename` makes of its current name; the caller holds the lock.
    private func changeFlags(
        _ message: Message, _ rename: (MaildirFileName) throws(FileSystemError) -> MaildirFileName
    ) throws(FileSystemError) -> Message? {
        var current = message
        for attempt in 0..<2 {
            var renamed = current
            renamed.name = try rename(current.name)
            renamed.isNew = false
            let source = path + "/" + relativePath(current.name, isNew: current.isNew)
            let target = path + "/" + relativePath(renamed.name, isNew: false)
            // A rename from the name we knew proves the file still had those flags.
            if source == target || Glibc.rename(source, target) == 0 { return renamed }
            guard errno == ENOENT else {
                throw FileSystemError(operation: "rename to \(target)", path: source, code: errno)
            }
            // Renamed meanwhile (by a program that does not take our lock, or before we took it): start
            // again from its name now, which also keeps letters we do not manage.
            guard attempt == 0, let now = locate(message.name.base).first,
                let name = MaildirFileName(String(now.split(separator: "/").last ?? ""))
            else { return nil }
            current.name = name
            current.isNew = now.hasPrefix("new/")
        }
        return nil
    }

    /// A message's place in a folder: the folder's UIDVALIDITY and the message's UID (UIDPLUS).
    public struct Placed: Equatable, Sendable {
        public var uidValidity: UInt32
        public var uid: UInt32
    }

    /// Writes a new message into cur/ with these flags, keywords and internal date (seconds since 1970; the file's
    /// modification time), and gives it the next UID.
    public func append(
        _ bytes: [UInt8], flags: MessageFlags, keywords: [String] = [], internalDate: Int?, hostname: String
    ) throws(FileSystemError) -> Placed {
        var counter = LineEndCounter()
        counter.count(bytes[...])
        let base = "\(MaildirFolder.uniqueName(hostname: hostname)),S=\(counter.octets),W=\(counter.wireOctets)"
        let temporary = path + "/tmp/" + base
        let fd = try FileSystem.createExclusive(temporary)
        do throws(FileSystemError) {
            defer { FileSystem.closeDescriptor(fd) }
            try FileSystem.writeAll(fd, bytes, path: temporary)
            try FileSystem.sync(fd, path: temporary)
        } catch {
            FileSystem.remove(temporary)
            throw error
        }
        if let internalDate { setModificationTime(temporary, internalDate) }
        return try place(
            temporary, as: MaildirFileName(base: base, flags: flags), keywords: keywords,
            size: counter.wireOctets)
    }

    /// Copies messages into `destination` (a hard link where the file system allows, else a copy), keeping
    /// their flags and internal dates. Returns where each landed, in order; a message already gone is skipped
    /// (nil in its place).
    public func copy(_ messages: [Message], to destination: MaildirFolder, hostname: String)
        throws(FileSystemError) -> [Placed?]
    {
        var uids: [Placed?] = []
        // Keywords go by name: the destination's table gives them letters of its own.
        let table = try loadKeywords()
        for message in messages {
            let base =
                "\(MaildirFolder.uniqueName(hostname: hostname)),S=\(message.name.storedSize ?? message.size),W=\(message.size)"
            let temporary = destination.path + "/tmp/" + base
            // A hard link shares the (immutable) content; when the file moved or links are not possible,
            // copy it. Flags and the internal date (the modification time) come along (RFC 3501 6.4.7).
            let known = path + "/" + relativePath(message.name, isNew: message.isNew)
            if link(known, temporary) != 0 {
                guard let fd = open(message) else {
                    uids.append(nil)
                    continue
                }
                defer { FileSystem.closeDescriptor(fd) }
                try copyContents(of: fd, to: temporary)
                var info = stat()
                if fstat(fd, &info) == 0 { setModificationTime(temporary, Int(info.st_mtim.tv_sec)) }
            }
            uids.append(
                try destination.place(
                    temporary, as: MaildirFileName(base: base, flags: message.flags),
                    keywords: message.name.keywords(in: table), size: message.size))
        }
        return uids
    }

    /// The file's modification time: IMAP's INTERNALDATE (seconds since 1970); nil if it is gone.
    public func internalDate(of message: Message) -> Int? {
        guard let fd = open(message) else { return nil }
        defer { FileSystem.closeDescriptor(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Int(info.st_mtim.tv_sec)
    }

    // MARK: Helpers

    /// Renames a written file from tmp/ into cur/ and gives it the next UID, both under the lock, so the UID
    /// is this file's even while other sessions list the folder.
    func place(_ temporary: String, as name: MaildirFileName, keywords: [String], size: Int) throws(FileSystemError)
        -> Placed
    {
        try withLock { () throws(FileSystemError) -> Placed in
            var list = loadList(now: MaildirFolder.wallClockSeconds)
            var name = name
            do throws(FileSystemError) {
                if !keywords.isEmpty {
                    var table = try loadKeywords()
                    let before = table
                    name.setKeywords(keywords, in: &table)
                    if table != before { try saveKeywords(table) }
                }
                try FileSystem.move(temporary, to: path + "/cur/" + name.curName)
            } catch {
                FileSystem.remove(temporary)
                throw error
            }
            let uid = list.add(base: name.base, size: size)
            try save(list)
            let directory = try FileSystem.openDirectory(path + "/cur")
            defer { FileSystem.closeDescriptor(directory) }
            try FileSystem.sync(directory, path: path + "/cur")
            return Placed(uidValidity: list.uidValidity, uid: uid)
        }
    }

    private func copyContents(of source: Int32, to target: String) throws(FileSystemError) {
        let fd = try FileSystem.createExclusive(target)
        do throws(FileSystemError) {
            defer { FileSystem.closeDescriptor(fd) }
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            var offset: off_t = 0
            while true {
                let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, offset) }
                if count < 0 && errno == EINTR { continue }
                try FileSystem.check(Int32(clamping: count), "read", target)
                if count == 0 { break }
                try FileSystem.writeAll(fd, buffer, count: count, path: target)
                offset += off_t(count)
            }
            try FileSystem.sync(fd, path: target)
        } catch {
            FileSystem.remove(target)
            throw error
        }
    }

    func setModificationTime(_ path: String, _ seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }
}
