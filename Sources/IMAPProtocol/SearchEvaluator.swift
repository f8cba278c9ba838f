/// Decides whether a message matches a SEARCH key (RFC 3501 6.4.4). Pure: the driver loads what the key
/// needs (the content only for header, body and text keys, `needsContent`).
public struct SearchEvaluator {
    /// A message a SEARCH looks at: its sequence number and the session's view of it.
    public struct Candidate: Equatable, Sendable {
        public var sequence: Int
        public var message: MessageView

        public init(sequence: Int, message: MessageView) {
            self.sequence = sequence
            self.message = message
        }
    }

    public struct Subject {
        public var sequence: Int
        public var message: MessageView
        /// Seconds since 1970.
        public var internalDate: Int
        public var content: [UInt8]?

        public init(sequence: Int, message: MessageView, internalDate: Int, content: [UInt8]?) {
            self.sequence = sequence
            self.message = message
            self.internalDate = internalDate
            self.content = content
        }
    }

    let key: SearchKey
    let largestUID: UInt32
    let count: Int

    public init(key: SearchKey, largestUID: UInt32, count: Int) {
        self.key = key
        self.largestUID = largestUID
        self.count = count
    }

    public static func needsContent(_ key: SearchKey) -> Bool {
        switch key {
        case .header, .body, .text, .sentSince, .sentBefore, .sentOn: true
        case .not(let inner): needsContent(inner)
        case .or(let a, let b): needsContent(a) || needsContent(b)
        case .and(let keys): keys.contains(where: needsContent)
        default: false
        }
    }

    public func matches(_ subject: Subject) -> Bool {
        var parsed: MIMEPart?
        return matches(key, subject, &parsed)
    }

    private func matches(_ key: SearchKey, _ subject: Subject, _ parsed: inout MIMEPart?) -> Bool {
        let message = subject.message
        func has(_ flag: String) -> Bool { message.flags.contains { $0.lowercased() == flag.lowercased() } }
        func part() -> MIMEPart {
            if let parsed { return parsed }
            let part = MIMEPart.parse(subject.content ?? [])
            parsed = part
            return part
        }
        switch key {
        case .all: return true
        case .flag(let flag, let set): return has(flag) == set
        case .new: return message.recent && !has("\\Seen")
        case .old: return !message.recent
        case .recent: return message.recent
        case .larger(let size): return message.size > size
        case .smaller(let size): return message.size < size
        case .uid(let set): return set.contains(message.uid, largest: largestUID)
        case .sequence(let set): return set.contains(UInt32(subject.sequence), largest: UInt32(count))
        case .since(let date): return Self.date(subject.internalDate) >= date
        case .before(let date): return Self.date(subject.internalDate) < date
        case .on(let date): return Self.date(subject.internalDate) == date
        case .sentSince(let date), .sentBefore(let date), .sentOn(let date):
            guard let sent = part().field("Date").flatMap(Self.headerDate) else { return false }
            if case .sentSince = key { return sent >= date }
            if case .sentBefore = key { return sent < date }
            return sent == date
        case .header(let name, let value):
            let lower = name.lowercased()
            var values = part().fields.filter { $0.name.lowercased() == lower }.map(\.value)
            if Self.addressFields.contains(lower) {
                // Addresses also match as they read without comments: `<user (x)@ (y) domain.org>` is
                // found by `FROM user@domain.org`, as Dovecot finds it.
                values += values.flatMap { Self.addressForms($0) }
            }
            return value.isEmpty ? !values.isEmpty : values.contains { Self.contains(Array($0.utf8)[...], value) }
        case .body(let text):
            let content = subject.content ?? []
            return Self.contains(content[part().body], text)
        case .text(let text):
            return Self.contains((subject.content ?? [])[...], text)
        case .not(let inner): return !matches(inner, subject, &parsed)
        case .or(let a, let b): return matches(a, subject, &parsed) || matches(b, subject, &parsed)
        case .and(let keys): return keys.allSatisfy { matches($0, subject, &parsed) }
        }
    }

    /// Case-insensitive (ASCII) substring search in octets.
    /// Whether `needle` occurs in `haystack`, ASCII letters without regard to case (RFC 3501 6.4.4). Knuth,
    /// Morris and Pratt's search: each octet of the haystack is looked at once, whatever the needle, so a
    /// SEARCH BODY costs time in proportion to the mail it reads (the naive search this replaced could be
    /// made to cost the product of the two).
    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: String) -> Bool {
        var steps = 0
        return contains(haystack, needle, steps: &steps)
    }

    /// The same, counting the comparisons made (tests count them rather than time them).
    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: String, steps: inout Int) -> Bool {
        let needle = Array(needle.lowercased().utf8)
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }
        // failure[i]: the length of the longest proper border of needle[0...i].
        var failure = [Int](repeating: 0, count: needle.count)
        var border = 0
        for index in needle.indices.dropFirst() {
            while border > 0 && needle[index] != needle[border] { border = failure[border - 1] }
            if needle[index] == needle[border] { border += 1 }
            failure[index] = border
        }
        var matched = 0
        for byte in haystack {
            let byte = lower(byte)
            steps += 1
            while matched > 0 && byte != needle[matched] {
                matched = failure[matched - 1]
                steps += 1
            }
            if byte == needle[matched] { matched += 1 }
            if matched == needle.count { return true }
        }
        return false
    }

    /// The UTC date of an internal date (SEARCH dates ignore the time, RFC 3501 6.4.4).
    static func date(_ seconds: Int) -> IMAPDate {
        let text = IMAPFetchResponse.internalDate(seconds)
        return IMAPCursor.date(String(text.prefix { $0 != " " })) ?? IMAPDate(year: 1970, month: 1, day: 1)
    }

    static let addressFields: Set<String> = ["from", "to", "cc", "bcc", "sender", "reply-to"]

    /// Each address of a header as `Name <mailbox@host>`.
    static func addressForms(_ value: String) -> [String] {
        AddressListParser.parse(value).compactMap { address in
            guard let mailbox = address.mailbox, let host = address.host else { return nil }
            return (address.name.map { $0 + " " } ?? "") + "<\(mailbox)@\(host)>"
        }
    }

    /// The date of an RFC 5322 Date field (`Fri, 27 Nov 2026 07:00:00 +0000`), as written (its own zone).
    static func headerDate(_ value: String) -> IMAPDate? {
        let words = value.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        guard
            let monthIndex = words.firstIndex(where: { word in
                IMAPDate.months.contains { $0.lowercased() == word.lowercased() }
            }),
            monthIndex >= 1, monthIndex + 1 < words.count, let day = Int(words[monthIndex - 1]),
            let year = Int(words[monthIndex + 1])
        else { return nil }
        return IMAPCursor.date("\(day)-\(words[monthIndex])-\(year < 100 ? year + 1900 : year)")
    }
}
