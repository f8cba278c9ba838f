/// A folder's IMAP identity, kept in `relaygate-uidlist` in the folder's directory: UIDVALIDITY, UIDNEXT
/// and each message's UID and size by its Maildir base name (RFC 3501 2.3.1.1). Pure: parsing, rendering
/// and `reconcile`, which brings it in line with the files found on disk. `MaildirFolder` does the I/O,
/// under a lock.
///
///     relaygate-uidlist 1 1764230000 4
///     1 2113 1764230000.M01HX….mx.example.org,S=2113,W=2113
///     3 845 1764230412.M01HY….mx.example.org,S=845,W=845
public struct UIDList: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var uid: UInt32
        /// Octets with CRLF line ends: what POP3 and IMAP report and send.
        public var size: Int
        public var base: String
    }

    public var uidValidity: UInt32
    public var uidNext: UInt32
    /// In UID order.
    public private(set) var entries: [Entry]

    public init(uidValidity: UInt32, uidNext: UInt32 = 1, entries: [Entry] = []) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.entries = entries
    }

    static let magic = "relaygate-uidlist 1"

    /// Nil when the text is not a list we wrote (or is damaged): the caller starts a new one with a new
    /// UIDVALIDITY, so clients resynchronise rather than trust UIDs that may be wrong.
    public init?(text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard let header = lines.popFirst(), header.hasPrefix(Self.magic + " ") else { return nil }
        let numbers = header.dropFirst(Self.magic.count + 1).split(separator: " ")
        guard numbers.count == 2, let validity = UInt32(numbers[0]), let next = UInt32(numbers[1]), validity > 0
        else { return nil }
        var entries: [Entry] = []
        entries.reserveCapacity(lines.count)
        var previous: UInt32 = 0
        for line in lines {
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count == 3, let uid = UInt32(fields[0]), let size = Int(fields[1]), uid > previous,
                uid < next, size >= 0
            else { return nil }
            entries.append(Entry(uid: uid, size: size, base: String(fields[2])))
            previous = uid
        }
        self.init(uidValidity: validity, uidNext: next, entries: entries)
    }

    public var text: String {
        var text = "\(Self.magic) \(uidValidity) \(uidNext)\n"
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
