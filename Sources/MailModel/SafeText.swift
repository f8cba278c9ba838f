/// Text a client hands us that we keep, log and later repeat to other hosts (addresses, ORCPT, AUTH=)
/// must not carry characters whose only use is to break a record or deceive a reader: ASCII and C1 control
/// characters, line and paragraph separators, and the bidirectional overrides and isolates that reorder
/// how text is shown. Any other Unicode is allowed (RFC 6531 lets addresses hold it).
public enum SafeText {
    /// Whether a scalar is one of those characters.
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `text` with every unsafe character replaced by `?` and, when longer than `limit` characters, cut to
    /// `limit` with `...` at its end: what a peer said, fit to keep in an envelope and show to a person.
    public static func sanitized(_ text: String, limit: Int = .max) -> String {
        var result = text
        if !isSafe(text) {
            result = String(String.UnicodeScalarView(text.unicodeScalars.map { isUnsafe($0) ? "?" : $0 }))
        }
        // Every reply we send passes here: octets are counted in O(1), characters only when it could matter.
        guard result.utf8.count > limit, result.count > limit else { return result }
        return String(result.prefix(max(0, limit - 3))) + "..."
    }

    public static func isSafe(_ text: String) -> Bool {
        var ascii = true
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return false }
            if byte >= 0x80 { ascii = false }
        }
        if ascii { return true }
        return !text.unicodeScalars.contains(where: isUnsafe)
    }

    /// Decoded protocol bytes as text, when they are UTF-8 and safe.
    public static func text(_ bytes: some Collection<UInt8>) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self), isSafe(text) else { return nil }
        return text
    }
}
