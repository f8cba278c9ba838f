/// The flags a Maildir keeps in a message's file name (the "info" after `:2,`, one letter each, in ASCII
/// order), and their IMAP names (RFC 3501 2.3.2). Custom keywords are not kept.
public struct MessageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let draft = MessageFlags(rawValue: 1 << 0)  // D
    public static let flagged = MessageFlags(rawValue: 1 << 1)  // F
    public static let passed = MessageFlags(rawValue: 1 << 2)  // P: forwarded; IMAP has no system flag for it
    public static let answered = MessageFlags(rawValue: 1 << 3)  // R: replied
    public static let seen = MessageFlags(rawValue: 1 << 4)  // S
    public static let deleted = MessageFlags(rawValue: 1 << 5)  // T: trashed

    /// Letter and flag, in the ASCII order the Maildir convention writes them.
    static let letters: [(Character, MessageFlags)] = [
        ("D", .draft), ("F", .flagged), ("P", .passed), ("R", .answered), ("S", .seen), ("T", .deleted),
    ]

    /// IMAP's system flags that a Maildir can store, by name.
    public static let imapNames: [(String, MessageFlags)] = [
        ("\\Answered", .answered), ("\\Flagged", .flagged), ("\\Deleted", .deleted), ("\\Seen", .seen),
        ("\\Draft", .draft),
    ]

    public var infoLetters: String {
        String(Self.letters.filter { contains($0.1) }.map(\.0))
    }

    public var imapNames: [String] {
        Self.imapNames.filter { contains($0.1) }.map(\.0)
    }

    /// A flag from its IMAP name, case-insensitively; nil for keywords and `\Recent` (which no one may set).
    public init?(imapName: String) {
        guard let match = Self.imapNames.first(where: { $0.0.lowercased() == imapName.lowercased() }) else {
            return nil
        }
        self = match.1
    }
}

/// A message file's name in a Maildir (https://cr.yp.to/proto/maildir.html): a unique base, then, once the
/// message has been seen by a reader and moved to cur/, `:2,` and the flag letters. Files we write carry
/// their size as `,S=` (octets on disk) and `,W=` (octets with CRLF line ends) in the base, as Dovecot's do,
/// so a listing needs no read of the message.
public struct MaildirFileName: Hashable, Sendable {
    public var base: String
    public var flags: MessageFlags
    /// Info letters we do not understand (lower-case keywords, experimental ones), kept as they were.
    public var otherInfo: String

    public init(base: String, flags: MessageFlags = [], otherInfo: String = "") {
        self.base = base
        self.flags = flags
        self.otherInfo = otherInfo
    }

    /// Nil for names that are not messages: dot files, and names with a separator or a NUL. Works on the
    /// UTF-8 octets: a folder lists thousands of these on every open.
    public init?(_ name: String) {
        let octets = name.utf8
        guard let first = octets.first, first != UInt8(ascii: "."),
            !octets.contains(UInt8(ascii: "/")), !octets.contains(0)
        else { return nil }
        guard let colon = octets.firstIndex(of: UInt8(ascii: ":")) else {
            self.init(base: name)
            return
        }
        var flags: MessageFlags = []
        var other = ""
        let info = octets[octets.index(after: colon)...]
        if info.starts(with: "2,".utf8) {
            for letter in info.dropFirst(2) {
                if let flag = MessageFlags.letters.first(where: { $0.0.asciiValue == letter })?.1 {
                    flags.insert(flag)
                } else {
                    other.unicodeScalars.append(Unicode.Scalar(letter))
                }
            }
        }
        self.init(base: String(name[..<colon]), flags: flags, otherInfo: other)
    }

    /// The name in cur/: base, `:2,` and the letters in ASCII order.
    public var curName: String {
        let letters = (flags.infoLetters + otherInfo).sorted()
        return base + ":2," + String(letters)
    }

    /// The `,S=` size in the base: octets on disk.
    public var storedSize: Int? { field("S") }

    /// The `,W=` size in the base: octets with every line ending as CRLF (what POP3 and IMAP count).
    public var wireSize: Int? { field("W") }

    private func field(_ key: Character) -> Int? {
        for part in base.split(separator: ",").dropFirst() where part.first == key && part.dropFirst().first == "=" {
            return Int(part.dropFirst(2))
        }
        return nil
    }
}
