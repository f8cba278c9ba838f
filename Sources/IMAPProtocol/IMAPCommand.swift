/// A parsed IMAP command (RFC 3501 6, with IDLE RFC 2177, NAMESPACE RFC 2342, UIDPLUS RFC 4315, MOVE RFC
/// 6851, UNSELECT RFC 3691, ID RFC 2971, ENABLE RFC 5161). Mailbox names are as the client sent them (modified UTF-7).
public struct IMAPCommand: Equatable, Sendable {
    public var tag: String
    public var kind: Kind

    public enum Kind: Equatable, Sendable {
        case capability, noop, logout, startTLS, namespace, idle
        /// The client's name, version and so on (field, value); empty for `ID NIL`.
        case id([IDField])
        case enable([String])
        case login(user: String, password: String)
        case authenticate(mechanism: String, initialResponse: String?)
        case select(String), examine(String), create(String), delete(String)
        case rename(from: String, to: String)
        case subscribe(String), unsubscribe(String)
        case list(reference: String, pattern: String)
        case lsub(reference: String, pattern: String)
        case status(String, [StatusItem])
        case append(mailbox: String, flags: [String], date: IMAPDateTime?, message: [UInt8])
        case check, close, unselect, expunge
        case uidExpunge(SequenceSet)
        case search(SearchKey, uid: Bool)
        case fetch(SequenceSet, [FetchAttribute], uid: Bool)
        case store(SequenceSet, StoreMode, flags: [String], silent: Bool, uid: Bool)
        case copy(SequenceSet, to: String, uid: Bool)
        case move(SequenceSet, to: String, uid: Bool)
    }

    public enum StatusItem: String, Equatable, Sendable, CaseIterable {
        case messages = "MESSAGES", recent = "RECENT", uidNext = "UIDNEXT", uidValidity = "UIDVALIDITY"
        case unseen = "UNSEEN"
    }

    public enum StoreMode: Equatable, Sendable { case replace, add, remove }

    public struct IDField: Equatable, Sendable {
        public var name: String
        public var value: String?
        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }
}

/// A set of message numbers or UIDs (RFC 3501 9 sequence-set): ranges whose ends may be `*`, the largest
/// number in use.
public struct SequenceSet: Equatable, Sendable {
    public enum Bound: Equatable, Sendable {
        case number(UInt32)
        case last
    }

    public struct Range: Equatable, Sendable {
        public var first: Bound
        public var last: Bound

        public init(first: Bound, last: Bound) {
            self.first = first
            self.last = last
        }
    }

    public var ranges: [Range]

    public init(ranges: [Range]) {
        self.ranges = ranges
    }

    /// The ranges as numbers, with `*` standing for `largest`; `a:b` and `b:a` are the same range.
    public func resolved(largest: UInt32) -> [ClosedRange<UInt32>] {
        ranges.map { range in
            func value(_ bound: Bound) -> UInt32 {
                if case .number(let number) = bound { return number }
                return largest
            }
            let (a, b) = (value(range.first), value(range.last))
            return min(a, b)...max(a, b)
        }
    }

    public func contains(_ number: UInt32, largest: UInt32) -> Bool {
        resolved(largest: largest).contains { $0.contains(number) }
    }
}

/// What FETCH may ask for (RFC 3501 6.4.5); the ALL, FAST and FULL macros are expanded when parsed.
public enum FetchAttribute: Equatable, Sendable {
    case envelope, flags, internalDate, rfc822, rfc822Header, rfc822Size, rfc822Text, body, bodyStructure, uid
    /// BODY[section]<origin.count>, or BODY.PEEK[...] (which does not set \Seen).
    case section(Section, partial: PartialRange?, peek: Bool)

    public struct PartialRange: Equatable, Sendable {
        public var origin: Int
        public var count: Int

        public init(origin: Int, count: Int) {
            self.origin = origin
            self.count = count
        }
    }
}

/// A body section (RFC 3501 6.4.5): a part path (`1.2`) and what of it.
public struct Section: Equatable, Sendable {
    public enum Text: Equatable, Sendable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        case mime
    }

    public var part: [Int]
    public var text: Text?

    public init(part: [Int] = [], text: Text? = nil) {
        self.part = part
        self.text = text
    }
}

/// A date as SEARCH takes it (`1-Feb-1994`).
public struct IMAPDate: Equatable, Comparable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public static func < (a: IMAPDate, b: IMAPDate) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
}

/// A date and time as APPEND takes it (`"17-Jul-1996 02:44:25 -0700"`).
public struct IMAPDateTime: Equatable, Sendable {
    public var date: IMAPDate
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// Minutes east of UTC.
    public var zoneMinutes: Int

    /// Seconds since 1970.
    public var secondsSince1970: Int {
        IMAPDate.daysSince1970(date) * 86400 + hour * 3600 + minute * 60 + second - zoneMinutes * 60
    }
}

extension IMAPDate {
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days from 1970-01-01 (proleptic Gregorian; Howard Hinnant's days_from_civil).
    static func daysSince1970(_ date: IMAPDate) -> Int {
        let year = date.month <= 2 ? date.year - 1 : date.year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (date.month + (date.month > 2 ? -3 : 9)) + 2) / 5 + date.day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }
}

/// SEARCH keys (RFC 3501 6.4.4). A list of keys is their AND.
public indirect enum SearchKey: Equatable, Sendable {
    case all
    case flag(String, set: Bool)
    case new, old, recent
    case header(String, String)
    case body(String), text(String)
    case since(IMAPDate), before(IMAPDate), on(IMAPDate)
    case sentSince(IMAPDate), sentBefore(IMAPDate), sentOn(IMAPDate)
    case larger(Int), smaller(Int)
    case uid(SequenceSet)
    case sequence(SequenceSet)
    case not(SearchKey)
    case or(SearchKey, SearchKey)
    case and([SearchKey])
}
