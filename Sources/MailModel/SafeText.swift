/// Text a client hands us that we keep, log and later repeat to other hosts (addresses, ORCPT, AUTH=)
/// must not carry characters whose only use is to break a record or deceive a reader: ASCII and C1 control
/// characters, line and paragraph separators, and the bidirectional overrides and isolates that reorder
/// how text is shown. Any other Unicode is allowed (RFC 6531 lets addresses hold it).
public enum SafeText {
    public static func isSafe(_ text: String) -> Bool {
        var ascii = true
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return false }
            if byte >= 0x80 { ascii = false }
        }
        if ascii { return true }
        return text.unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: false
            default: true
            }
        }
    }

    /// Decoded protocol bytes as text, when they are UTF-8 and safe.
    public static func text(_ bytes: some Collection<UInt8>) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self), isSafe(text) else { return nil }
        return text
    }
}
