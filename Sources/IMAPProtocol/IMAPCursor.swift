/// Reads the grammar's pieces (RFC 3501 9) from a framed command: atoms, quoted strings, literals, numbers.
/// A literal shows up as the end of a line followed by a `.literal` segment (the framer took its `{N}`
/// away), then the command goes on in the next line.
struct IMAPCursor {
    private let segments: [IMAPSegment]
    private var segment = 0
    private var offset = 0

    init(_ segments: [IMAPSegment]) {
        self.segments = segments
    }

    struct Failure: Error, Equatable {
        let message: String
        init(_ message: String) { self.message = message }
    }

    private var line: [UInt8] {
        if segment < segments.count, case .line(let bytes) = segments[segment] { return bytes }
        return []
    }

    var peek: UInt8? {
        let line = self.line
        return offset < line.count ? line[offset] : nil
    }

    /// At the end of the whole command.
    var atEnd: Bool { peek == nil && segment >= segments.count - 1 }

    /// At the end of a line that a literal follows.
    private var atLiteral: Bool {
        peek == nil && segment + 1 < segments.count
            && { if case .literal = segments[segment + 1] { true } else { false } }()
    }

    mutating func advance() { offset += 1 }

    mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
        guard peek == byte else { throw Failure("expected \(what)") }
        offset += 1
    }

    mutating func space() throws(Failure) { try expect(UInt8(ascii: " "), "a space") }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        offset += 1
        return true
    }

    func finished() throws(Failure) {
        guard atEnd else { throw Failure("unexpected text at the end of the command") }
    }

    // MARK: Atoms and strings

    static func isAtomChar(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
            && !"(){%*\"\\]".utf8.contains(byte)
    }

    /// 1*ATOM-CHAR, with `extra` also allowed (`]` in an astring, wildcards in a list-mailbox, ...) and
    /// `stop` not (`[` after a FETCH item's name).
    mutating func atom(allowing extra: String = "", stoppingAt stop: String = "") throws(Failure) -> String {
        let line = self.line
        let start = offset
        while offset < line.count, Self.isAtomChar(line[offset]) || extra.utf8.contains(line[offset]),
            !stop.utf8.contains(line[offset])
        {
            offset += 1
        }
        guard offset > start else { throw Failure("expected an atom") }
        return String(decoding: line[start..<offset], as: UTF8.self)
    }

    /// A quoted string or a literal, as octets.
    mutating func stringBytes() throws(Failure) -> [UInt8] {
        if atLiteral {
            segment += 1
            guard case .literal(let bytes) = segments[segment] else { throw Failure("expected a literal") }
            segment += 1
            offset = 0
            return bytes
        }
        guard skip(UInt8(ascii: "\"")) else { throw Failure("expected a string") }
        var bytes: [UInt8] = []
        let line = self.line
        while offset < line.count {
            let byte = line[offset]
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                return bytes
            case UInt8(ascii: "\\"):
                // Only \" and \\ are quoted-specials (RFC 3501 9).
                guard offset < line.count, line[offset] == UInt8(ascii: "\"") || line[offset] == UInt8(ascii: "\\")
                else { throw Failure("bad escape in a quoted string") }
                bytes.append(line[offset])
                offset += 1
            default:
                bytes.append(byte)
            }
        }
        throw Failure("unterminated quoted string")
    }

    mutating func string() throws(Failure) -> String {
        let bytes = try stringBytes()
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure("a string must be UTF-8") }
        return text
    }

    var startsString: Bool { atLiteral || peek == UInt8(ascii: "\"") }

    /// astring: an atom (`]` allowed) or a string.
    mutating func astring() throws(Failure) -> String {
        startsString ? try string() : try atom(allowing: "]")
    }

    /// list-mailbox: like an astring, and the wildcards `%` and `*` may appear unquoted.
    mutating func listMailbox() throws(Failure) -> String {
        startsString ? try string() : try atom(allowing: "]%*")
    }

    // MARK: Numbers

    mutating func number() throws(Failure) -> Int {
        let line = self.line
        let start = offset
        while offset < line.count, line[offset] >= 48, line[offset] <= 57 { offset += 1 }
        guard offset > start, offset - start <= 10 else { throw Failure("expected a number") }
        let value = line[start..<offset].reduce(0) { $0 * 10 + Int($1 - 48) }
        guard value <= Int(UInt32.max) else { throw Failure("number too large") }
        return value
    }

    mutating func nonZeroNumber() throws(Failure) -> UInt32 {
        let value = try number()
        guard value > 0 else { throw Failure("numbers start at 1") }
        return UInt32(value)
    }

    /// sequence-set: `1`, `2:4`, `*`, `5:*`, comma-separated.
    mutating func sequenceSet() throws(Failure) -> SequenceSet {
        var ranges: [SequenceSet.Range] = []
        repeat {
            let first = try bound()
            let last = skip(UInt8(ascii: ":")) ? try bound() : first
            ranges.append(.init(first: first, last: last))
        } while skip(UInt8(ascii: ","))
        return SequenceSet(ranges: ranges)
    }

    private mutating func bound() throws(Failure) -> SequenceSet.Bound {
        skip(UInt8(ascii: "*")) ? .last : .number(try nonZeroNumber())
    }

    // MARK: Lists and dates

    /// `(a b c)`, each item read by `item`; empty lists allowed.
    mutating func parenthesized<T>(_ item: (inout IMAPCursor) throws(Failure) -> T) throws(Failure) -> [T] {
        try expect(UInt8(ascii: "("), "(")
        var items: [T] = []
        if skip(UInt8(ascii: ")")) { return items }
        repeat { items.append(try item(&self)) } while skip(UInt8(ascii: " "))
        try expect(UInt8(ascii: ")"), ")")
        return items
    }

    /// Takes `word` (any case) when it comes next and is not the start of a longer atom.
    mutating func skipWord(_ word: String) -> Bool {
        let start = offset
        for expected in word.utf8 {
            guard let byte = peek, byte | 0x20 == expected | 0x20 else {
                offset = start
                return false
            }
            advance()
        }
        if let next = peek, next != UInt8(ascii: " "), next != UInt8(ascii: ")") {
            offset = start
            return false
        }
        return true
    }

    /// A flag: `\Seen` or a keyword atom.
    mutating func flag() throws(Failure) -> String {
        if skip(UInt8(ascii: "\\")) { return "\\" + (try atom()) }
        return try atom()
    }

    /// date: `1-Feb-1994`, or the same quoted.
    mutating func date() throws(Failure) -> IMAPDate {
        let quoted = skip(UInt8(ascii: "\""))
        let text = try atom(allowing: "")
        if quoted { try expect(UInt8(ascii: "\""), "a closing quote") }
        guard let date = Self.date(text) else { throw Failure("expected a date such as 1-Feb-1994") }
        return date
    }

    static func date(_ text: String) -> IMAPDate? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let day = Int(parts[0]), let year = Int(parts[2]), parts[2].count == 4,
            let month = IMAPDate.months.firstIndex(where: { $0.lowercased() == parts[1].lowercased() }),
            (1...31).contains(day)
        else { return nil }
        return IMAPDate(year: year, month: month + 1, day: day)
    }

    /// date-time: `"17-Jul-1996 02:44:25 -0700"` (the day may be space-padded).
    mutating func dateTime() throws(Failure) -> IMAPDateTime {
        let bytes = try stringBytes()
        let text = String(decoding: bytes, as: UTF8.self).trimmingLeadingSpace()
        let parts = text.split(separator: " ")
        guard parts.count == 3, let date = Self.date(String(parts[0])) else {
            throw Failure("expected a date-time such as \"17-Jul-1996 02:44:25 -0700\"")
        }
        let time = parts[1].split(separator: ":").compactMap { Int($0) }
        let zone = parts[2]
        guard time.count == 3, time[0] < 24, time[1] < 60, time[2] < 61, zone.count == 5,
            let sign = zone.first, sign == "+" || sign == "-", let hhmm = Int(zone.dropFirst())
        else { throw Failure("expected a date-time such as \"17-Jul-1996 02:44:25 -0700\"") }
        let minutes = (hhmm / 100) * 60 + hhmm % 100
        return IMAPDateTime(
            date: date, hour: time[0], minute: time[1], second: time[2], zoneMinutes: sign == "-" ? -minutes : minutes)
    }
}

extension String {
    fileprivate func trimmingLeadingSpace() -> String {
        String(drop { $0 == " " })
    }
}
