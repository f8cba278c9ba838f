/// A folder's IMAP keywords (`$Forwarded`, `$Junk`, Thunderbird's `$label1`...), kept as Dovecot keeps them
/// so Dovecot and other Maildir tools read the same flags: the file `dovecot-keywords` in the folder gives
/// each keyword a number, one `N name` per line, and a message carries keyword N as the letter `a` + N
/// among the flag letters of its file name (`1234.host:2,Sab`). Letters run out at `z`: a folder holds at
/// most 26 keywords. A number, once given, keeps its name, so a letter never changes meaning under a
/// message; new names take the lowest free number.
public struct MaildirKeywords: Sendable, Equatable {
    public static let fileName = "dovecot-keywords"
    public static let capacity = 26

    /// Names by number; nil where a number is free.
    private var names: [String?]

    public init() { names = [] }

    /// Reads the file's text. Lines that are not `N name` with N below 26 are skipped, as Dovecot does.
    public init(text: String) {
        names = []
        for line in text.split(whereSeparator: \.isNewline) {
            guard let space = line.firstIndex(of: " "), let number = Int(line[..<space]),
                (0..<Self.capacity).contains(number)
            else { continue }
            let name = String(line[line.index(after: space)...])
            guard Self.isValid(name) else { continue }
            if names.count <= number { names += Array(repeating: nil, count: number + 1 - names.count) }
            names[number] = name
        }
    }

    public var text: String {
        names.enumerated().compactMap { number, name in name.map { "\(number) \($0)\n" } }.joined()
    }

    /// Every keyword, in number order.
    public var all: [String] { names.compactMap { $0 } }

    /// True when every letter is taken: a new keyword cannot be kept.
    public var isFull: Bool { names.count == Self.capacity && !names.contains(nil) }

    /// The keyword a flag letter stands for; nil for a letter that is not a keyword's.
    public func name(of letter: Character) -> String? {
        guard let value = letter.asciiValue, value >= UInt8(ascii: "a"), value <= UInt8(ascii: "z") else { return nil }
        let number = Int(value - UInt8(ascii: "a"))
        return number < names.count ? names[number] : nil
    }

    /// The letter of a keyword already in the table. Keywords match without regard to case (RFC 3501 leaves
    /// flag case to the server; clients send `$Junk` and `$junk` alike), and keep their first spelling.
    public func letter(of name: String) -> Character? {
        let wanted = name.lowercased()
        guard let number = names.firstIndex(where: { $0?.lowercased() == wanted }) else { return nil }
        return Self.letter(number)
    }

    /// The keyword's letter, giving it the lowest free number if it is new; nil when the table is full.
    public mutating func letter(assigning name: String) -> Character? {
        if let known = letter(of: name) { return known }
        guard Self.isValid(name) else { return nil }
        if let free = names.firstIndex(of: nil) {
            names[free] = name
            return Self.letter(free)
        }
        guard names.count < Self.capacity else { return nil }
        names.append(name)
        return Self.letter(names.count - 1)
    }

    /// An IMAP flag-keyword (RFC 3501 9: an atom) that fits on one line of the file.
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && !name.hasPrefix("\\")
            && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !Array("(){%*\"\\]".utf8).contains($0) }
    }

    private static func letter(_ number: Int) -> Character {
        Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(number)))
    }
}

extension MaildirFileName {
    /// The keywords this name carries, by `table`; letters the table has no name for are not reported.
    public func keywords(in table: MaildirKeywords) -> [String] {
        otherInfo.compactMap { table.name(of: $0) }
    }

    /// Sets the keywords to `wanted` (names), giving new ones letters in `table`; letters that are not
    /// keywords of the table (another program's) stay. Returns the names that did not fit (a full table).
    @discardableResult
    public mutating func setKeywords(_ wanted: [String], in table: inout MaildirKeywords) -> [String] {
        var kept = otherInfo.filter { table.name(of: $0) == nil }
        var dropped: [String] = []
        for name in wanted {
            guard let letter = table.letter(assigning: name) else {
                dropped.append(name)
                continue
            }
            if !kept.contains(letter) { kept.append(letter) }
        }
        otherInfo = kept
        return dropped
    }
}
