/// A folder of a mailbox as IMAP clients name it, and its directory in the Maildir++ layout: INBOX is the
/// Maildir itself, `Sent` is `.Sent/`, `Archive.2024` is `.Archive.2024/`. The hierarchy delimiter is `.`,
/// as in Maildir++ (and Dovecot's default for it).
///
/// A name from a client must never reach outside the mailbox: it has no `/`, no control characters,
/// no empty level (so no leading, trailing or doubled `.`, and hence never `..`), no `~` at the start, no
/// IMAP wildcards, and at most 255 octets. Names are kept as the client sent them (modified UTF-7 for
/// non-ASCII, RFC 3501 5.1.3); only INBOX is case-insensitive.
public struct FolderName: Hashable, Sendable, CustomStringConvertible {
    public static let delimiter: Character = "."
    public static let inbox = FolderName(validated: "INBOX")

    /// The name as IMAP shows it.
    public let name: String

    private init(validated name: String) { self.name = name }

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong
        case forbiddenCharacter(Character)
        case emptyLevel
        case underInbox

        public var description: String {
            switch self {
            case .empty: "a folder needs a name"
            case .tooLong: "folder names are at most 255 octets"
            case .forbiddenCharacter(let character):
                "folder names may not contain \(character.isASCII && character.asciiValue! >= 32 ? "\"\(character)\"" : "control characters")"
            case .emptyLevel: "a folder name may not start or end with \".\" or have \"..\" in it"
            case .underInbox: "folders live beside INBOX, not inside it"
            }
        }
    }

    public init(_ raw: String) throws(Problem) {
        if raw.uppercased() == "INBOX" {
            self = .inbox
            return
        }
        guard !raw.isEmpty else { throw .empty }
        guard raw.utf8.count <= 255 else { throw .tooLong }
        for character in raw {
            if character == "/" || character == "*" || character == "%"
                || character.unicodeScalars.contains(where: { $0.value < 32 || $0.value == 127 })
            {
                throw .forbiddenCharacter(character)
            }
        }
        if raw.hasPrefix("~") { throw .forbiddenCharacter("~") }
        let levels = raw.split(separator: Self.delimiter, omittingEmptySubsequences: false)
        guard !levels.contains(where: \.isEmpty) else { throw .emptyLevel }
        guard levels[0].uppercased() != "INBOX" else { throw .underInbox }
        self.name = raw
    }

    public var isInbox: Bool { self == .inbox }

    /// The directory below the mailbox root: "" for INBOX, else `.` and the name.
    public var directory: String { isInbox ? "" : "." + name }

    /// The folder a Maildir++ directory entry (such as `.Sent`) stands for; nil if it is not one.
    public init?(directory entry: String) {
        guard entry.hasPrefix("."), entry != ".", entry != "..", let folder = try? FolderName(String(entry.dropFirst()))
        else { return nil }
        self = folder
    }

    /// The levels above this folder ("Archive" for "Archive.2024").
    public var parent: FolderName? {
        guard let last = name.lastIndex(of: Self.delimiter) else { return nil }
        return try? FolderName(String(name[..<last]))
    }

    public var description: String { name }
}
