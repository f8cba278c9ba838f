import Foundation

/// An amount of octets in relaygate.yaml: a number, or a number with a unit — `50MiB`, `64KiB`, `1GiB`.
/// `K`, `KB` and `KiB` all mean 1024 (as in Postfix's and Dovecot's settings); there is no decimal kilo.
public struct ByteSize: QuantitySetting, Sendable, Hashable, CustomStringConvertible {
    public let octets: Int

    public init(octets: Int) {
        self.octets = octets
    }

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let multiplier: Int
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        octets = product
    }

    public init(number: Int) {
        octets = number
    }

    static let expected = "a size such as 1048576, 64KiB or 50MiB"

    public var description: String {
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] where octets > 0 && octets % (1 << shift) == 0 {
            return "\(octets >> shift)\(unit)"
        }
        return "\(octets)"
    }
}

/// A span of time in relaygate.yaml: seconds as a number, or a number with a unit — `300ms`, `30s`,
/// `5m`, `2h`, `5d`.
public struct TimeSpan: QuantitySetting, Sendable, Hashable, CustomStringConvertible {
    public let duration: Duration

    public init(_ duration: Duration) {
        self.duration = duration
    }

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int64(digits), number < Int64(Int32.max) else { return nil }
        switch trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased() {
        case "ms": duration = .milliseconds(number)
        case "", "s": duration = .seconds(number)
        case "m", "min": duration = .seconds(number * 60)
        case "h": duration = .seconds(number * 3600)
        case "d": duration = .seconds(number * 86400)
        default: return nil
        }
    }

    public init(number: Int) {
        duration = .seconds(number)
    }

    static let expected = "a time such as 30, 30s, 500ms, 5m or 2h"

    public var description: String {
        let (seconds, attoseconds) = duration.components
        if attoseconds != 0 { return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms" }
        if seconds % 3600 == 0 && seconds > 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 && seconds > 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

/// A setting written as a plain number or as text with a unit (`ByteSize`, `TimeSpan`).
protocol QuantitySetting: Decodable {
    init?(_ text: String)
    /// A bare number, in the base unit (octets, seconds).
    init(number: Int)
    /// What a valid value looks like, for the error message.
    static var expected: String { get }
}

extension QuantitySetting {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self), number >= 0 {
            self.init(number: number)
        } else if let text = try? container.decode(String.self), let parsed = Self(text) {
            self = parsed
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected \(Self.expected)")
        }
    }
}
