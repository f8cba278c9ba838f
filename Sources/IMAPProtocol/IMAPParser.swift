/// Parses a framed command (`IMAPCommandFramer`) into an `IMAPCommand` (RFC 3501 9's grammar, for the
/// commands we serve). Errors carry the tag when one could be read, so the session can answer `TAG BAD`.
public enum IMAPParser {
    public struct Failure: Error, Equatable, Sendable {
        /// Nil when not even a tag could be read (the reply is then `* BAD`).
        public var tag: String?
        public var message: String

        public init(tag: String?, message: String) {
            self.tag = tag
            self.message = message
        }
    }

    public static func parse(_ segments: [IMAPSegment]) -> Result<IMAPCommand, Failure> {
        parseTagged(segments) { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
            try command(try cursor.atom().uppercased(), &cursor)
        }.map { IMAPCommand(tag: $0.tag, kind: $0.value) }
    }

    /// The tag at the start of a command line, if one can be read there (RFC 3501 9: astring characters
    /// but `+`, then a space): what a refusal must be tagged with even when the rest is not read.
    public static func tag(of line: [UInt8]) -> String? {
        var cursor = IMAPCursor([.line(line)])
        return try? readTag(&cursor)
    }

    private static func readTag(_ cursor: inout IMAPCursor) throws(IMAPCursor.Failure) -> String {
        let tag = try cursor.atom(allowing: "]")
        guard !tag.contains("+") else { throw IMAPCursor.Failure("bad tag") }
        try cursor.space()
        return tag
    }

    /// A tag, then what `body` reads, then the end of the command. A failure carries the tag when one was
    /// read, so the session can answer `TAG BAD`.
    private static func parseTagged<Value>(
        _ segments: [IMAPSegment], _ body: (inout IMAPCursor) throws(IMAPCursor.Failure) -> Value
    ) -> Result<(tag: String, value: Value), Failure> {
        var cursor = IMAPCursor(segments)
        let tag: String
        do throws(IMAPCursor.Failure) {
            tag = try readTag(&cursor)
        } catch {
            return .failure(Failure(tag: nil, message: "Missing or bad tag"))
        }
        do throws(IMAPCursor.Failure) {
            let value = try body(&cursor)
            try cursor.finished()
            return .success((tag, value))
        } catch {
            return .failure(Failure(tag: tag, message: error.message))
        }
    }

    /// What comes before an APPEND's message: ` mailbox [flags] [date] ` (RFC 3501 6.3.11).
    public struct AppendHead: Equatable, Sendable {
        public var tag: String
        public var mailbox: String
        public var flags: [String]
        public var date: IMAPDateTime?
    }

    public static let onlyAppendStreams = "only APPEND takes a literal this large"

    /// An APPEND as far as its message, which is a literal being streamed: the segments before it.
    public static func parseAppendHead(_ segments: [IMAPSegment]) -> Result<AppendHead, Failure> {
        parseTagged(segments) { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
            guard try cursor.atom().uppercased() == "APPEND" else { throw IMAPCursor.Failure(onlyAppendStreams) }
            return try appendHead(&cursor)
        }.map { parsed in
            var head = parsed.value
            head.tag = parsed.tag
            return head
        }
    }

    private static func appendHead(_ cursor: inout IMAPCursor) throws(IMAPCursor.Failure) -> AppendHead {
        try cursor.space()
        let box = try cursor.astring()
        try cursor.space()
        var flags: [String] = []
        if cursor.peek == UInt8(ascii: "(") {
            flags = try cursor.parenthesized { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
                try cursor.flag()
            }
            try cursor.space()
        }
        var date: IMAPDateTime?
        if cursor.peek == UInt8(ascii: "\"") {
            date = try cursor.dateTime()
            try cursor.space()
        }
        return AppendHead(tag: "", mailbox: box, flags: flags, date: date)
    }

    private static func command(_ name: String, _ cursor: inout IMAPCursor) throws(IMAPCursor.Failure)
        -> IMAPCommand.Kind
    {
        func mailbox() throws(IMAPCursor.Failure) -> String {
            try cursor.space()
            return try cursor.astring()
        }
        switch name {
        case "CAPABILITY": return .capability
        case "NOOP": return .noop
        case "LOGOUT": return .logout
        case "STARTTLS": return .startTLS
        case "NAMESPACE": return .namespace
        case "IDLE": return .idle
        case "CHECK": return .check
        case "CLOSE": return .close
        case "UNSELECT": return .unselect
        case "ID":
            // RFC 2971 3.3: at most 30 pairs, names up to 30 octets, values up to 1024.
            try cursor.space()
            if cursor.skipWord("NIL") { return .id([]) }
            let items = try cursor.parenthesized { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
                cursor.skipWord("NIL") ? nil : try cursor.string()
            }
            guard items.count % 2 == 0, items.count <= 60 else { throw IMAPCursor.Failure("ID takes up to 30 pairs") }
            var fields: [IMAPCommand.IDField] = []
            for index in stride(from: 0, to: items.count, by: 2) {
                guard let name = items[index], name.utf8.count <= 30, (items[index + 1]?.utf8.count ?? 0) <= 1024 else {
                    throw IMAPCursor.Failure("ID field names are strings of up to 30 octets, values up to 1024")
                }
                fields.append(.init(name: name, value: items[index + 1]))
            }
            return .id(fields)
        case "ENABLE":
            var capabilities: [String] = []
            repeat {
                try cursor.space()
                capabilities.append(try cursor.atom().uppercased())
            } while cursor.peek == UInt8(ascii: " ")
            return .enable(capabilities)
        case "EXPUNGE": return .expunge
        case "LOGIN":
            try cursor.space()
            let user = try cursor.astring()
            try cursor.space()
            return .login(user: user, password: try cursor.astring())
        case "AUTHENTICATE":
            try cursor.space()
            let mechanism = try cursor.atom().uppercased()
            // SASL-IR (RFC 4959): an initial response on the command line.
            let initial = cursor.skip(UInt8(ascii: " ")) ? try cursor.atom(allowing: "=") : nil
            return .authenticate(mechanism: mechanism, initialResponse: initial)
        case "SELECT": return .select(try mailbox())
        case "EXAMINE": return .examine(try mailbox())
        case "CREATE": return .create(try mailbox())
        case "DELETE": return .delete(try mailbox())
        case "SUBSCRIBE": return .subscribe(try mailbox())
        case "UNSUBSCRIBE": return .unsubscribe(try mailbox())
        case "RENAME":
            let from = try mailbox()
            return .rename(from: from, to: try mailbox())
        case "LIST", "LSUB":
            let reference = try mailbox()
            try cursor.space()
            let pattern = try cursor.listMailbox()
            return name == "LIST"
                ? .list(reference: reference, pattern: pattern) : .lsub(reference: reference, pattern: pattern)
        case "STATUS":
            let box = try mailbox()
            try cursor.space()
            let items = try cursor.parenthesized { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
                let item = try cursor.atom().uppercased()
                guard let known = IMAPCommand.StatusItem(rawValue: item) else {
                    throw IMAPCursor.Failure("unknown STATUS item \(item)")
                }
                return known
            }
            return .status(box, items)
        case "APPEND":
            let head = try appendHead(&cursor)
            return .append(mailbox: head.mailbox, flags: head.flags, date: head.date, message: try cursor.stringBytes())
        case "SEARCH": return try search(&cursor, uid: false)
        case "FETCH": return try fetch(&cursor, uid: false)
        case "STORE": return try store(&cursor, uid: false)
        case "COPY", "MOVE":
            try cursor.space()
            let set = try cursor.sequenceSet()
            let target = try mailbox()
            return name == "COPY" ? .copy(set, to: target, uid: false) : .move(set, to: target, uid: false)
        case "UID":
            try cursor.space()
            let sub = try cursor.atom().uppercased()
            switch sub {
            case "SEARCH": return try search(&cursor, uid: true)
            case "FETCH": return try fetch(&cursor, uid: true)
            case "STORE": return try store(&cursor, uid: true)
            case "COPY", "MOVE":
                try cursor.space()
                let set = try cursor.sequenceSet()
                let target = try mailbox()
                return sub == "COPY" ? .copy(set, to: target, uid: true) : .move(set, to: target, uid: true)
            case "EXPUNGE":
                try cursor.space()
                return .uidExpunge(try cursor.sequenceSet())
            default:
                throw IMAPCursor.Failure("unknown UID command \(sub.prefix(20))")
            }
        default:
            throw IMAPCursor.Failure("unknown command \(name.prefix(20))")
        }
    }

    // MARK: FETCH

    private static func fetch(_ cursor: inout IMAPCursor, uid: Bool) throws(IMAPCursor.Failure) -> IMAPCommand.Kind {
        try cursor.space()
        let set = try cursor.sequenceSet()
        try cursor.space()
        var attributes: [FetchAttribute]
        if cursor.peek == UInt8(ascii: "(") {
            attributes = try cursor.parenthesized { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
                try fetchAttribute(&cursor)
            }.flatMap { $0 }
        } else {
            attributes = try fetchAttribute(&cursor)
        }
        // UID FETCH always reports the UID (RFC 3501 6.4.8).
        if uid && !attributes.contains(.uid) { attributes.insert(.uid, at: 0) }
        return .fetch(set, attributes, uid: uid)
    }

    private static func fetchAttribute(_ cursor: inout IMAPCursor) throws(IMAPCursor.Failure) -> [FetchAttribute] {
        let name = try cursor.atom(stoppingAt: "[").uppercased()
        switch name {
        case "ALL": return [.flags, .internalDate, .rfc822Size, .envelope]
        case "FAST": return [.flags, .internalDate, .rfc822Size]
        case "FULL": return [.flags, .internalDate, .rfc822Size, .envelope, .body]
        case "ENVELOPE": return [.envelope]
        case "FLAGS": return [.flags]
        case "INTERNALDATE": return [.internalDate]
        case "RFC822": return [.rfc822]
        case "RFC822.HEADER": return [.rfc822Header]
        case "RFC822.SIZE": return [.rfc822Size]
        case "RFC822.TEXT": return [.rfc822Text]
        case "BODYSTRUCTURE": return [.bodyStructure]
        case "UID": return [.uid]
        case "BODY", "BODY.PEEK":
            guard cursor.peek == UInt8(ascii: "[") else {
                guard name == "BODY" else { throw IMAPCursor.Failure("BODY.PEEK needs a section") }
                return [.body]
            }
            let section = try Self.section(&cursor)
            var partial: FetchAttribute.PartialRange?
            if cursor.skip(UInt8(ascii: "<")) {
                let origin = try cursor.number()
                try cursor.expect(UInt8(ascii: "."), "a partial range <origin.count>")
                let count = Int(try cursor.nonZeroNumber())
                try cursor.expect(UInt8(ascii: ">"), ">")
                partial = .init(origin: origin, count: count)
            }
            return [.section(section, partial: partial, peek: name == "BODY.PEEK")]
        default:
            throw IMAPCursor.Failure("unknown FETCH item \(name.prefix(30))")
        }
    }

    /// `[1.2.HEADER.FIELDS (From To)]` and its kin (RFC 3501 6.4.5).
    private static func section(_ cursor: inout IMAPCursor) throws(IMAPCursor.Failure) -> Section {
        try cursor.expect(UInt8(ascii: "["), "[")
        var section = Section()
        if cursor.skip(UInt8(ascii: "]")) { return section }
        while let byte = cursor.peek, byte >= 48 && byte <= 57 {
            section.part.append(Int(try cursor.nonZeroNumber()))
            guard cursor.skip(UInt8(ascii: ".")) else {
                try cursor.expect(UInt8(ascii: "]"), "]")
                return section
            }
        }
        let name = try cursor.atom().uppercased()
        switch name {
        case "HEADER": section.text = .header
        case "TEXT": section.text = .text
        case "MIME":
            guard !section.part.isEmpty else { throw IMAPCursor.Failure("MIME needs a part number") }
            section.text = .mime
        case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
            try cursor.space()
            let fields = try cursor.parenthesized { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
                try cursor.astring()
            }
            guard !fields.isEmpty else { throw IMAPCursor.Failure("HEADER.FIELDS needs field names") }
            section.text = name == "HEADER.FIELDS" ? .headerFields(fields) : .headerFieldsNot(fields)
        default:
            throw IMAPCursor.Failure("unknown section \(name.prefix(30))")
        }
        try cursor.expect(UInt8(ascii: "]"), "]")
        return section
    }

    // MARK: STORE

    private static func store(_ cursor: inout IMAPCursor, uid: Bool) throws(IMAPCursor.Failure) -> IMAPCommand.Kind {
        try cursor.space()
        let set = try cursor.sequenceSet()
        try cursor.space()
        let item = try cursor.atom().uppercased()
        let mode: IMAPCommand.StoreMode
        switch item.hasSuffix(".SILENT") ? String(item.dropLast(7)) : item {
        case "FLAGS": mode = .replace
        case "+FLAGS": mode = .add
        case "-FLAGS": mode = .remove
        default: throw IMAPCursor.Failure("STORE takes FLAGS, +FLAGS or -FLAGS")
        }
        try cursor.space()
        let flags: [String]
        if cursor.peek == UInt8(ascii: "(") {
            flags = try cursor.parenthesized { (cursor: inout IMAPCursor) throws(IMAPCursor.Failure) in
                try cursor.flag()
            }
        } else {
            var list = [try cursor.flag()]
            while cursor.skip(UInt8(ascii: " ")) { list.append(try cursor.flag()) }
            flags = list
        }
        return .store(set, mode, flags: flags, silent: item.hasSuffix(".SILENT"), uid: uid)
    }

    // MARK: SEARCH

    private static func search(_ cursor: inout IMAPCursor, uid: Bool) throws(IMAPCursor.Failure) -> IMAPCommand.Kind {
        try cursor.space()
        var keys: [SearchKey] = []
        var depth = 0
        repeat {
            let key = try searchKey(&cursor, depth: &depth)
            if case .and([]) = key { continue }  // CHARSET, handled in place
            keys.append(key)
        } while cursor.skip(UInt8(ascii: " "))
        return .search(keys.count == 1 ? keys[0] : .and(keys), uid: uid)
    }

    /// Nesting of NOT, OR and parentheses is limited, so a hostile query cannot exhaust the stack.
    static let maxSearchDepth = 32

    private static func searchKey(_ cursor: inout IMAPCursor, depth: inout Int) throws(IMAPCursor.Failure) -> SearchKey
    {
        depth += 1
        defer { depth -= 1 }
        guard depth <= maxSearchDepth else { throw IMAPCursor.Failure("search nested too deeply") }
        if cursor.peek == UInt8(ascii: "(") {
            cursor.advance()
            var keys = [try searchKey(&cursor, depth: &depth)]
            while cursor.skip(UInt8(ascii: " ")) { keys.append(try searchKey(&cursor, depth: &depth)) }
            try cursor.expect(UInt8(ascii: ")"), ")")
            return keys.count == 1 ? keys[0] : .and(keys)
        }
        if let byte = cursor.peek, byte == UInt8(ascii: "*") || (byte >= 48 && byte <= 57) {
            return .sequence(try cursor.sequenceSet())
        }
        let name = try cursor.atom().uppercased()
        func argument() throws(IMAPCursor.Failure) -> String {
            try cursor.space()
            return try cursor.astring()
        }
        func date() throws(IMAPCursor.Failure) -> IMAPDate {
            try cursor.space()
            return try cursor.date()
        }
        func size() throws(IMAPCursor.Failure) -> Int {
            try cursor.space()
            return try cursor.number()
        }
        func flag(_ flag: String, set: Bool) -> SearchKey { .flag(flag, set: set) }
        switch name {
        case "ALL": return .all
        case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
            return flag("\\" + name.prefix(1) + name.dropFirst().lowercased(), set: true)
        case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
            let base = name.dropFirst(2)
            return flag("\\" + base.prefix(1) + base.dropFirst().lowercased(), set: false)
        case "KEYWORD": return flag(try argument(), set: true)
        case "UNKEYWORD": return flag(try argument(), set: false)
        case "NEW": return .new
        case "OLD": return .old
        case "RECENT": return .recent
        case "FROM", "TO", "CC", "BCC", "SUBJECT":
            return .header(name.prefix(1) + name.dropFirst().lowercased(), try argument())
        case "HEADER":
            let field = try argument()
            return .header(field, try argument())
        case "BODY": return .body(try argument())
        case "TEXT": return .text(try argument())
        case "SINCE": return .since(try date())
        case "BEFORE": return .before(try date())
        case "ON": return .on(try date())
        case "SENTSINCE": return .sentSince(try date())
        case "SENTBEFORE": return .sentBefore(try date())
        case "SENTON": return .sentOn(try date())
        case "LARGER": return .larger(try size())
        case "SMALLER": return .smaller(try size())
        case "UID":
            try cursor.space()
            return .uid(try cursor.sequenceSet())
        case "NOT":
            try cursor.space()
            return .not(try searchKey(&cursor, depth: &depth))
        case "OR":
            try cursor.space()
            let first = try searchKey(&cursor, depth: &depth)
            try cursor.space()
            return .or(first, try searchKey(&cursor, depth: &depth))
        case "CHARSET":
            let charset = try argument().uppercased()
            guard charset == "UTF-8" || charset == "US-ASCII" else {
                throw IMAPCursor.Failure("[BADCHARSET (UTF-8 US-ASCII)] charset not supported")
            }
            return .and([])
        default:
            throw IMAPCursor.Failure("unknown search key \(name.prefix(30))")
        }
    }
}
