import Crypto
import MailModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The on-disk form of an envelope: a header line naming the format version and a SHA-256 of the JSON
/// that follows, then the JSON.
///
///     relaygate-envelope 1 sha256=3f5a...e1\n
///     {"arrival":1795790000.123,"client":{...},"queue_id":"0N4Y2K7H3QWBC5DE",...}
///
/// Self-validating: a torn or altered file fails the hash and is quarantined, never half-believed. Every
/// client-supplied string goes through the JSON encoder, which escapes it, so no byte a client sends can
/// break the record.
public enum EnvelopeCodec {
    public static let currentVersion = 1
    static let magic = "relaygate-envelope"

    public enum DecodingFailure: Error, Equatable, CustomStringConvertible {
        case badHeader
        case unsupportedVersion(String)
        case checksumMismatch
        case badJSON(String)

        public var description: String {
            switch self {
            case .badHeader: "not a relaygate envelope (bad first line)"
            case .unsupportedVersion(let version): "envelope format version \(version) is not supported"
            case .checksumMismatch: "checksum mismatch (torn or altered file)"
            case .badJSON(let detail): "envelope JSON does not decode: \(detail)"
            }
        }
    }

    public static func encode(_ envelope: Envelope) throws -> [UInt8] {
        let json = EnvelopeJSON.encode(envelope)
        let header = "\(magic) \(currentVersion) sha256=\(hex(SHA256.hash(data: json)))\n"
        return Array(header.utf8) + json
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> Envelope {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), newline < 200 else { throw .badHeader }
        let words = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        guard words.count == 3, words[0] == magic, words[2].hasPrefix("sha256=") else { throw .badHeader }
        guard words[1] == "\(currentVersion)" else { throw .unsupportedVersion(String(words[1])) }
        let json = Data(bytes[(newline + 1)...])
        guard hex(SHA256.hash(data: json)) == words[2].dropFirst("sha256=".count) else { throw .checksumMismatch }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            return try decoder.decode(Envelope.self, from: json)
        } catch {
            throw .badJSON("\(error)")
        }
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in digest { text += [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]] }
        return String(decoding: text, as: UTF8.self)
    }
}
