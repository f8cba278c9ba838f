/// The MIME structure of a stored message (RFC 2045, RFC 2046), as FETCH BODYSTRUCTURE, BODY and BODY[part]
/// need it: every part's header fields and where its header and body lie in the message's octets.
/// Parsing is bounded: nesting deeper than `Limits.depth`, more than `Limits.parts` parts, or a header
/// longer than `Limits.headerSize` is not followed (the rest is treated as an opaque body), so a hostile
/// message costs bounded time and memory.
public struct MIMEPart: Equatable, Sendable {
    public struct Limits: Sendable {
        public var depth = 32
        public var parts = 1000
        public var headerSize = 256 * 1024
        public init() {}
    }

    /// A header field, name as written, value unfolded (CRLF before whitespace removed).
    public struct Field: Equatable, Sendable {
        public var name: String
        public var value: String
    }

    public var fields: [Field]
    /// Octet ranges in the whole message.
    public var header: Range<Int>
    public var body: Range<Int>
    public var contentType: ContentType
    /// Sub-parts of a multipart, or the one encapsulated message of a message/rfc822.
    public var children: [MIMEPart]
    /// Lines in the body (for text/* and message/rfc822 in BODYSTRUCTURE).
    public var bodyLines: Int

    public struct ContentType: Equatable, Sendable {
        public var type: String
        public var subtype: String
        /// Parameters in order, names lower-cased.
        public var parameters: [(String, String)]

        public static func == (a: ContentType, b: ContentType) -> Bool {
            a.type == b.type && a.subtype == b.subtype && a.parameters.elementsEqual(b.parameters) { $0 == $1 }
        }

        public func parameter(_ name: String) -> String? {
            parameters.first { $0.0 == name }?.1
        }
    }

    public func field(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    public var isMultipart: Bool { contentType.type == "multipart" }
    public var isMessage: Bool { contentType.type == "message" && contentType.subtype == "rfc822" }

    /// Parses a whole message.
    public static func parse(_ message: [UInt8], limits: Limits = Limits()) -> MIMEPart {
        var budget = limits.parts
        return message.withUnsafeBufferPointer { bytes in
            parse(bytes, range: 0..<bytes.count, defaultType: .textPlain, depth: 0, limits: limits, budget: &budget)
        }
    }

    /// The part at a section path (`[1, 2]` is the second part of the first part). For a message/rfc822 part,
    /// its numbers go into the encapsulated message (RFC 3501 6.4.5). The top level is the message itself,
    /// even when it is of type message/rfc822: its part 1 is its body (the encapsulated message, whole),
    /// and `1.1` goes inside. Nil if there is no such part.
    public func part(at path: [Int]) -> MIMEPart? {
        var part = self
        for (depth, number) in path.enumerated() {
            if depth > 0, part.isMessage, let inner = part.children.first { part = inner }
            if part.isMultipart {
                guard number >= 1, number <= part.children.count else { return nil }
                part = part.children[number - 1]
            } else {
                // A non-multipart message has one part, numbered 1.
                guard number == 1 else { return nil }
            }
        }
        return part
    }
}

extension MIMEPart.ContentType {
    static let textPlain = MIMEPart.ContentType(type: "text", subtype: "plain", parameters: [("charset", "us-ascii")])
    static let messageRFC822 = MIMEPart.ContentType(type: "message", subtype: "rfc822", parameters: [])
}

extension MIMEPart {
    private static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, defaultType: ContentType, depth: Int, limits: Limits,
        budget: inout Int
    ) -> MIMEPart {
        budget -= 1
        let (fields, headerEnd, bodyStart) = parseHeader(bytes, range: range, limit: limits.headerSize)
        var part = MIMEPart(
            fields: fields, header: range.lowerBound..<headerEnd, body: bodyStart..<range.upperBound,
            contentType: defaultType, children: [], bodyLines: 0)
        if let value = part.field("Content-Type"), let type = ContentType(parsing: value) {
            part.contentType = type
        }
        part.bodyLines = countLines(bytes, part.body)
        guard depth < limits.depth, budget > 0 else { return part }
        if part.isMultipart, let boundary = part.contentType.parameter("boundary"), !boundary.isEmpty {
            let childDefault = part.contentType.subtype == "digest" ? ContentType.messageRFC822 : .textPlain
            for childRange in bodyParts(bytes, part.body, boundary: Array(("--" + boundary).utf8)) {
                guard budget > 0 else { break }
                part.children.append(
                    parse(
                        bytes, range: childRange, defaultType: childDefault, depth: depth + 1, limits: limits,
                        budget: &budget))
            }
        } else if part.isMessage {
            part.children = [
                parse(
                    bytes, range: part.body, defaultType: .textPlain, depth: depth + 1, limits: limits, budget: &budget)
            ]
        }
        return part
    }

    /// Header fields up to the blank line. Returns the fields, where the header ends (after the blank line:
    /// BODY[HEADER] includes it) and where the body starts. A part with no blank line is all header.
    static func parseHeader(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, limit: Int)
        -> (fields: [Field], headerEnd: Int, bodyStart: Int)
    {
        var fields: [Field] = []
        var index = range.lowerBound
        var current: (name: String, value: [UInt8])?
        func finish() {
            if let field = current {
                fields.append(Field(name: field.name, value: String(decoding: field.value, as: UTF8.self)))
            }
            current = nil
        }
        while index < range.upperBound {
            // One line: [index, lineEnd) without its line ending; next is after it.
            var lineEnd = index
            while lineEnd < range.upperBound && bytes[lineEnd] != 10 { lineEnd += 1 }
            let next = min(lineEnd + 1, range.upperBound)
            let contentEnd = lineEnd > index && bytes[lineEnd - 1] == 13 ? lineEnd - 1 : lineEnd
            if contentEnd == index {
                finish()
                // The header includes its blank line (RFC 3501 BODY[HEADER]).
                return (fields, next, next)
            }
            if index - range.lowerBound > limit { break }
            let line = bytes[index..<contentEnd]
            if line.first == 32 || line.first == 9 {
                current?.value += line
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                finish()
                let name = String(decoding: bytes[index..<colon], as: UTF8.self).trimmingCharacters(in: " \t")
                current = (name, Array(bytes[(colon + 1)..<contentEnd].drop { $0 == 32 || $0 == 9 }))
            }
            index = next
        }
        finish()
        return (fields, index, index)
    }

    /// The parts of a multipart body between `--boundary` lines, up to `--boundary--` (RFC 2046 5.1.1). The
    /// CRLF before a boundary line belongs to the boundary.
    static func bodyParts(_ bytes: UnsafeBufferPointer<UInt8>, _ body: Range<Int>, boundary: [UInt8]) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var partStart: Int?
        var index = body.lowerBound
        while index < body.upperBound {
            var lineEnd = index
            while lineEnd < body.upperBound && bytes[lineEnd] != 10 { lineEnd += 1 }
            let next = min(lineEnd + 1, body.upperBound)
            let line = bytes[index..<lineEnd]
            if line.starts(with: boundary) {
                let rest = line.dropFirst(boundary.count)
                let closing = rest.starts(with: [45, 45])
                let trailer = closing ? rest.dropFirst(2) : rest
                if trailer.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) {
                    if let start = partStart {
                        // Drop the line ending that precedes the boundary line.
                        var end = index
                        if end > start && bytes[end - 1] == 10 { end -= 1 }
                        if end > start && bytes[end - 1] == 13 { end -= 1 }
                        parts.append(start..<end)
                    }
                    if closing { return parts }
                    partStart = next
                }
            }
            index = next
        }
        if let start = partStart { parts.append(start..<body.upperBound) }
        return parts
    }

    static func countLines(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var lines = 0
        for index in range where bytes[index] == 10 { lines += 1 }
        if let last = range.last, bytes[last] != 10 { lines += 1 }
        return lines
    }
}

extension MIMEPart.ContentType {
    /// `type/subtype; name=value; name="quoted"` (RFC 2045 5.1), lower-cased type, subtype and names. Nil
    /// when the value is not that (the part then counts as text/plain, RFC 2045 5.2).
    init?(parsing value: String) {
        var scanner = HeaderScanner(value)
        guard let type = scanner.token(), scanner.skip("/"), let subtype = scanner.token() else { return nil }
        var parameters: [(String, String)] = []
        while scanner.skip(";") {
            guard let name = scanner.token(), scanner.skip("=") else { break }
            guard let value = scanner.quotedString() ?? scanner.token() else { break }
            parameters.append((name.lowercased(), value))
        }
        self.init(type: type.lowercased(), subtype: subtype.lowercased(), parameters: parameters)
    }
}

/// Reads RFC 2045 tokens and quoted strings, skipping whitespace and comments.
struct HeaderScanner {
    private let characters: [Character]
    private var index = 0

    init(_ text: String) { characters = Array(text) }

    private mutating func skipSpace() {
        while index < characters.count {
            if characters[index].isWhitespace {
                index += 1
            } else if characters[index] == "(" {
                var depth = 0
                while index < characters.count {
                    if characters[index] == "(" { depth += 1 }
                    if characters[index] == ")" { depth -= 1 }
                    index += 1
                    if depth == 0 { break }
                }
            } else {
                return
            }
        }
    }

    mutating func skip(_ character: Character) -> Bool {
        skipSpace()
        guard index < characters.count, characters[index] == character else { return false }
        index += 1
        return true
    }

    private static let specials: Set<Character> = [
        "(", ")", "<", ">", "@", ",", ";", ":", "\\", "\"", "/", "[", "]", "?", "=",
    ]

    mutating func token() -> String? {
        skipSpace()
        let start = index
        while index < characters.count, !characters[index].isWhitespace, !Self.specials.contains(characters[index]),
            characters[index].isASCII
        {
            index += 1
        }
        return index > start ? String(characters[start..<index]) : nil
    }

    mutating func quotedString() -> String? {
        skipSpace()
        guard index < characters.count, characters[index] == "\"" else { return nil }
        index += 1
        var value = ""
        while index < characters.count {
            let character = characters[index]
            index += 1
            if character == "\"" { return value }
            if character == "\\", index < characters.count {
                value.append(characters[index])
                index += 1
            } else {
                value.append(character)
            }
        }
        return value
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let drop = Set(set)
        return String(self.drop { drop.contains($0) }.reversed().drop { drop.contains($0) }.reversed())
    }
}
