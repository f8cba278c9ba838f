/// The name of a queued message: its body file, its envelope file and every log line about it carry it.
///
/// 16 characters of Crockford base32: 11 encode the arrival time in microseconds since 1970, 5 are random.
/// So IDs sort by arrival (which gives the scheduler arrival order from a directory listing), never repeat in
/// practice, and are safe as file names and in logs: only `0-9` and upper-case letters without `I L O U`.
public struct QueueID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)
    public static let length = 16

    /// Accepts exactly the shape `make` produces, so a file name or a command-line argument that is not a
    /// queue ID is refused before it reaches a path.
    public init?(_ text: String) {
        guard text.utf8.count == Self.length, text.utf8.allSatisfy(Self.alphabet.contains) else { return nil }
        self.rawValue = text
    }

    /// Builds an ID from a time and a random source. Both are arguments so tests can fix them.
    public static func make(microsecondsSince1970: UInt64, using generator: inout some RandomNumberGenerator)
        -> QueueID
    {
        var characters = [UInt8](repeating: 0, count: length)
        var time = microsecondsSince1970
        for index in stride(from: 10, through: 0, by: -1) {
            characters[index] = alphabet[Int(time & 31)]
            time >>= 5
        }
        for index in 11..<length {
            characters[index] = alphabet[Int(generator.next() & 31)]
        }
        return QueueID(String(decoding: characters, as: UTF8.self))!
    }

    public var description: String { rawValue }

    public static func < (lhs: QueueID, rhs: QueueID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = QueueID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad queue ID"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
