import Foundation
import Logging
import Synchronization

/// One line per event, in key=value form an operator can grep:
///
///     2026-11-26T17:00:00.123Z info smtp: queued queue_id=0N4Y2K7H3QWBC5DE client=192.0.2.1:40312 from=<a@b.example> nrcpt=1 size=1042
///
/// `queue_id` comes first when present, then the other keys in name order. Values with spaces, quotes or
/// control characters are quoted and escaped, so one event is always one line whatever a client sent.
public struct KeyValueLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    public init(label: String, level: Logger.Level, output: LogOutput = .standardError) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        // The message is our own text: left unquoted, but a control character still cannot split the line.
        var line = Self.timestamp() + " \(event.level) \(label): " + Self.escapeControls(event.message.description)
        let keys = merged.keys.sorted { ($0 == "queue_id" ? "" : $0) < ($1 == "queue_id" ? "" : $1) }
        for key in keys {
            line += " \(key)=" + Self.quoteIfNeeded("\(merged[key]!)")
        }
        output.write(line + "\n")
    }

    /// A value as it is, or quoted and escaped if it has a space, quote, `=` or control character.
    static func quoteIfNeeded(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains {
                $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 32 || $0.value == 127
            }
        return needsQuotes ? "\"" + escapeControls(value, quotes: true) + "\"" : value
    }

    private static let hexDigits = Array("0123456789abcdef".unicodeScalars)

    static func escapeControls(_ value: String, quotes: Bool = false) -> String {
        guard
            value.unicodeScalars.contains(where: {
                $0.value < 32 || $0.value == 127 || (quotes && ($0 == "\"" || $0 == "\\"))
            })
        else { return value }
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"" where quotes: escaped += "\\\""
            case "\\" where quotes: escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 32 || scalar.value == 127 {
                    // Always two digits: NUL is \x00, never the ambiguous \x0.
                    escaped += "\\x"
                    escaped.unicodeScalars.append(hexDigits[Int(scalar.value >> 4)])
                    escaped.unicodeScalars.append(hexDigits[Int(scalar.value & 0xF)])
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped
    }

    static func timestamp() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return timestamp(seconds: time.tv_sec, milliseconds: time.tv_nsec / 1_000_000)
    }

    /// ISO 8601 in UTC with milliseconds. Written digit by digit: `String(format:)` was a visible share of a
    /// busy server's CPU, at one line per message and per delivery.
    static func timestamp(seconds: Int, milliseconds: Int) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text: [UInt8] = []
        text.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                text.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        text.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        text.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        text.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        text.append(UInt8(ascii: "."))
        digits(milliseconds, 3)
        text.append(UInt8(ascii: "Z"))
        return String(decoding: text, as: UTF8.self)
    }
}

/// Where log lines go. Writes are whole lines under a lock, so lines from several threads never interleave.
public final class LogOutput: Sendable {
    public static let standardError = LogOutput(descriptor: 2)
    private let descriptor: Int32
    private let lock = Mutex(())

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            bytes.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written <= 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
            }
        }
    }
}
