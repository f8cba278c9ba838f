/// The `xtext` encoding of RFC 3461 4: printable ASCII except `+` and `=` stands for itself; any other
/// octet is `+` followed by two upper-case hex digits. Used by ENVID, ORCPT and the MAIL AUTH parameter.
public enum XText {
    /// Decodes xtext; nil when the text is not valid xtext (a bad `+XX`, or a character outside 33-126, or `=`).
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var result: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue)
                else { return nil }
                result.append(high << 4 | low)
            case UInt8(ascii: "="):
                return nil
            case 33...126:
                result.append(byte)
            default:
                return nil
            }
        }
        return result
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var result = ""
        for byte in bytes {
            if byte >= 33, byte <= 126, byte != UInt8(ascii: "+"), byte != UInt8(ascii: "=") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                result += "+" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    /// Whether `text` is valid xtext. RFC 3461 requires upper-case hex; lower case is accepted on input,
    /// as Postfix does, because nothing is ambiguous about it.
    public static func isValid(_ text: some StringProtocol) -> Bool { decode(text) != nil }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
