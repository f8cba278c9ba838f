/// A folder's IMAP identity, kept in `relaygate-uidlist` in the folder's directory: UIDVALIDITY, UIDNEXT
/// and each message's UID and size by its Maildir base name (RFC 3501 2.3.1.1). Pure: parsing, rendering
/// and `reconcile`, which brings it in line with the files found on disk. `MaildirFolder` does the I/O,
/// under a lock.
///
///     relaygate-uidlist 1 1764230000 4 3
///     1 2113 1764230000.M01HX….mx.example.org,S=2113,W=2113
///     3 845 1764230412.M01HY….mx.example.org,S=845,W=845
///
/// The header's numbers are UIDVALIDITY, UIDNEXT and the first recent UID: messages from it on have not
/// yet been seen by a read-write session (IMAP's \Recent, as Dovecot's list keeps it). Lists written
/// before it existed have two numbers; nothing beyond new/ is recent in them.
public struct UIDList: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var uid: UInt32
        /// Octets with CRLF line ends: what POP3 and IMAP report and send.
        public var size: Int
        public var base: String
    }

    public var uidValidity: UInt32
    public var uidNext: UInt32
    /// Messages with this UID or above are recent: no read-write session has claimed them yet.
    public var firstRecent: UInt32
    /// In UID order.
    public private(set) var entries: [Entry]

    public init(uidValidity: UInt32, uidNext: UInt32 = 1, firstRecent: UInt32? = nil, entries: [Entry] = []) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.firstRecent = firstRecent ?? uidNext
        self.entries = entries
    }

    static let magic = "relaygate-uidlist 1"

    /// Nil when the text is not a list we wrote (or is damaged): the caller starts a new one with a new
    /// UIDVALIDITY, so clients resynchronise rather than trust UIDs that may be wrong.
    public init?(text: String) {
        var text = text
        guard let list = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = list
    }

    /// Parses octet by octet (a large folder's list is read on every open).
    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> UIDList? {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)[...]
        guard let header = lines.popFirst(), header.starts(with: (magic + " ").utf8) else { return nil }
        let numbers = header.dropFirst(magic.utf8.count + 1).split(separator: UInt8(ascii: " "))
        guard numbers.count == 2 || numbers.count == 3, let validity = number(numbers[0]),
            let next = number(numbers[1]), validity > 0, let validity32 = UInt32(exactly: validity),
            let next32 = UInt32(exactly: next)
        else { return nil }
        var firstRecent = next32
        if numbers.count == 3 {
            guard let recent = number(numbers[2]), let recent32 = UInt32(exactly: recent), recent32 <= next32 else {
                return nil
            }
            firstRecent = recent32
        }
        var entries: [Entry] = []
        entries.reserveCapacity(lines.count)
        var previous = 0
        for line in lines {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
            guard fields.count == 3, let uid = number(fields[0]), let size = number(fields[1]), uid > previous,
                uid < next
            else { return nil }
            entries.append(Entry(uid: UInt32(uid), size: size, base: String(decoding: fields[2], as: UTF8.self)))
            previous = uid
        }
        return UIDList(uidValidity: validity32, uidNext: next32, firstRecent: firstRecent, entries: entries)
    }

    /// A decimal number of at most 18 digits.
    private static func number(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    public var text: String {
        var text = "\(Self.magic) \(uidValidity) \(uidNext) \(firstRecent)\n"
        text.reserveCapacity(entries.count * 64)
        for entry in entries { text += "\(entry.uid) \(entry.size) \(entry.base)\n" }
        return text
    }

    /// A file found on disk.
    public struct Found: Sendable {
        public var base: String
        /// Seconds since 1970; new files get their UIDs in this order (then by name).
        public var modified: Int
        public init(base: String, modified: Int) {
            self.base = base
            self.modified = modified
        }
    }

    /// Drops entries whose file is gone and gives every new file the next UID, oldest first. `size` is
    /// asked only for new files. Returns whether anything changed (and so the file must be written).
    public mutating func reconcile(with found: [Found], size: (String) -> Int?) -> Bool {
        var onDisk = Set<String>(minimumCapacity: found.count)
        for file in found { onDisk.insert(file.base) }
        let before = entries.count
        entries.removeAll { !onDisk.contains($0.base) }
        var changed = entries.count != before
        var known = Set<String>(minimumCapacity: entries.count)
        for entry in entries { known.insert(entry.base) }
        let fresh = found.filter { !known.contains($0.base) }.sorted {
            ($0.modified, $0.base) < ($1.modified, $1.base)
        }
        for file in fresh {
            // A file that vanished between listing and sizing is picked up (or not) on the next look.
            guard let octets = size(file.base) else { continue }
            entries.append(Entry(uid: uidNext, size: octets, base: file.base))
            uidNext += 1
            changed = true
        }
        return changed
    }

    /// Adds a file we just put in the folder (APPEND, COPY, MOVE) and returns its UID.
    public mutating func add(base: String, size: Int) -> UInt32 {
        let uid = uidNext
        entries.append(Entry(uid: uid, size: size, base: base))
        uidNext += 1
        return uid
    }
}
