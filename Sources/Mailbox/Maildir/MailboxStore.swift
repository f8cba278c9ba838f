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
}
