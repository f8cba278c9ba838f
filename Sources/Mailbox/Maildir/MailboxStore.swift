import FileSupport
import MailModel

/// The local mailboxes under one root (default `SPOOL/mailboxes`): `ROOT/NAME/` is mailbox NAME's Maildir,
/// which is its INBOX, and its other folders are Maildir++ subdirectories (`ROOT/NAME/.Sent/`). Mailbox
/// names are what `mailbox:NAME` accepts (`Route.isValidMailboxName`), so they are always one safe directory
/// level; folder names are checked by `FolderName`.
public struct MailboxStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func path(of mailbox: String) -> String {
        precondition(Route.isValidMailboxName(mailbox), "mailbox names are checked where they come in")
        return root + "/" + mailbox
    }

    public func folder(_ folder: FolderName, of mailbox: String) -> MaildirFolder {
        MaildirFolder(path: folder.isInbox ? path(of: mailbox) : path(of: mailbox) + "/" + folder.directory)
    }

    public func inbox(of mailbox: String) -> MaildirFolder { folder(.inbox, of: mailbox) }

    /// Creates the root and the mailbox's INBOX if they are missing.
    public func createMailbox(_ mailbox: String) throws(FileSystemError) {
        try FileSystem.makeDirectory(root)
        try inbox(of: mailbox).create()
    }

    /// INBOX and every Maildir++ folder of the mailbox, sorted by name.
    public func folders(of mailbox: String) throws(FileSystemError) -> [FolderName] {
        let others = try FileSystem.list(path(of: mailbox)).compactMap(FolderName.init(directory:)).filter {
            self.folder($0, of: mailbox).exists
        }
        return [.inbox] + others.sorted { $0.name < $1.name }
    }

    public enum FolderProblem: Error, Equatable, CustomStringConvertible {
        case exists(FolderName)
        case missing(FolderName)
        case inbox(String)
        case file(FileSystemError)

        public var description: String {
            switch self {
            case .exists(let folder): "\(folder) already exists"
            case .missing(let folder): "\(folder) does not exist"
            case .inbox(let what): what
            case .file(let error): "\(error)"
            }
        }
    }

    /// CREATE: a new Maildir++ folder (and a `maildirfolder` marker, as Maildir++ has it). Levels above it
    /// need not exist: `Archive.2024` works without `Archive`, as with Dovecot.
    public func createFolder(_ folder: FolderName, of mailbox: String) throws(FolderProblem) {
        guard !folder.isInbox else { throw .exists(folder) }
        let maildir = self.folder(folder, of: mailbox)
        guard !maildir.exists else { throw .exists(folder) }
        do throws(FileSystemError) {
            try createMailbox(mailbox)
            try maildir.create()
            FileSystem.closeDescriptor(try FileSystem.createExclusive(maildir.path + "/maildirfolder"))
            try maildir.save(UIDList(uidValidity: try nextUIDValidity(of: mailbox)))
        } catch {
            throw .file(error)
        }
    }

    /// A UIDVALIDITY this mailbox has never given: the time, or one above the last one given if that is
    /// later. A folder deleted and created again within a second, or after the clock stepped back, so gets
    /// a new one, and its new UIDs (from 1 again) can never be taken for the old ones (RFC 3501 2.3.1.1
    /// MUST). The last one is kept in `relaygate-uidvalidity`, as Dovecot keeps `dovecot-uidvalidity`.
    func nextUIDValidity(of mailbox: String, now: Int = MaildirFolder.wallClockSeconds()) throws(FileSystemError)
        -> UInt32
    {
        // Under INBOX's lock (the mailbox's own), so two CREATEs at once never take the same number.
        try inbox(of: mailbox).withLock { () throws(FileSystemError) -> UInt32 in
            let file = path(of: mailbox) + "/relaygate-uidvalidity"
            let last =
                (try? FileSystem.readFile(file, limit: 64)).flatMap { bytes in
                    String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace).first.flatMap {
                        UInt32($0)
                    }
                } ?? 0
            let next = max(UInt32(clamping: max(now, 1)), last == .max ? 1 : last + 1)
            try FileSystem.replaceFile(file, Array("\(next)\n".utf8))
            return next
        }
    }

    /// DELETE: the folder and its messages. INBOX cannot be deleted (RFC 3501 6.3.4); folders below this one
    /// stay (they are directories of their own in Maildir++).
    public func deleteFolder(_ folder: FolderName, of mailbox: String) throws(FolderProblem) {
        guard !folder.isInbox else { throw .inbox("INBOX cannot be deleted") }
        let maildir = self.folder(folder, of: mailbox)
        guard maildir.exists else { throw .missing(folder) }
        do throws(FileSystemError) {
            try FileSystem.removeTree(maildir.path)
        } catch {
            throw .file(error)
        }
    }

    /// RENAME: the folder and every folder below it (RFC 3501 6.3.5). Renaming INBOX, which moves its
    /// messages into a new folder, is not supported.
    public func renameFolder(_ folder: FolderName, to newName: FolderName, of mailbox: String) throws(FolderProblem) {
        guard !folder.isInbox, !newName.isInbox else { throw .inbox("INBOX cannot be renamed") }
        guard self.folder(folder, of: mailbox).exists else { throw .missing(folder) }
        guard !self.folder(newName, of: mailbox).exists else { throw .exists(newName) }
        do throws(FileSystemError) {
            let prefix = folder.name + String(FolderName.delimiter)
            for child in try folders(of: mailbox) where child.name.hasPrefix(prefix) {
                guard let renamed = try? FolderName(newName.name + child.name.dropFirst(folder.name.count)) else {
                    continue
                }
                try FileSystem.move(self.folder(child, of: mailbox).path, to: self.folder(renamed, of: mailbox).path)
            }
            try FileSystem.move(self.folder(folder, of: mailbox).path, to: self.folder(newName, of: mailbox).path)
        } catch {
            throw .file(error)
        }
    }

    // MARK: Subscriptions

    /// The subscribed folder names (LSUB), one per line in `subscriptions`, as Dovecot's Maildir++ keeps them.
    public func subscriptions(of mailbox: String) -> [String] {
        guard let bytes = try? FileSystem.readFile(path(of: mailbox) + "/subscriptions") else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Under INBOX's lock (the mailbox's own), so two sessions subscribing at once both keep theirs.
    public func setSubscribed(_ name: String, _ subscribed: Bool, of mailbox: String) throws(FileSystemError) {
        try createMailbox(mailbox)
        try inbox(of: mailbox).withLock { () throws(FileSystemError) in
            var names = subscriptions(of: mailbox).filter { $0 != name }
            if subscribed { names.append(name) }
            try FileSystem.replaceFile(
                path(of: mailbox) + "/subscriptions", Array(names.map { $0 + "\n" }.joined().utf8))
        }
    }
}
