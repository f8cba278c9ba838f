import MailModel

/// Validates MAIL and RCPT parameters against the extensions we advertise (RFC 1870 SIZE, RFC 6152
/// 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH).
enum ESMTPParameters {
    enum Failure: Error, Equatable {
        /// A keyword we do not know or did not advertise: 555 5.5.4.
        case unrecognized(String)
        /// A known keyword with a bad value: 501 5.5.4.
        case badValue(String)
    }

    /// Longest decoded ENVID (RFC 3461 4.4).
    static let maxEnvelopeIDLength = 100
    /// Longest decoded ORCPT address (RFC 3461 4.2 allows the whole address; 500 is generous).
    static let maxOriginalRecipientLength = 500

    static func mail(_ parameters: [ESMTPParameter]) throws(Failure) -> MailParameters {
        var result = MailParameters()
        for parameter in parameters {
            let value = parameter.value
            switch parameter.keyword {
            case "SIZE":
                guard let value, !value.isEmpty, value.count <= 20, value.utf8.allSatisfy(isDigit) else {
                    throw .badValue("SIZE must be a number of octets")
                }
                result.declaredSize = Int(value) ?? Int.max
            case "BODY":
                switch value?.uppercased() {
                case "7BIT": result.body = .sevenBit
                case "8BITMIME": result.body = .eightBitMIME
                case "BINARYMIME": throw .unrecognized("BODY=BINARYMIME is not supported")
                default: throw .badValue("BODY must be 7BIT or 8BITMIME")
                }
            case "SMTPUTF8":
                guard value == nil else { throw .badValue("SMTPUTF8 takes no value") }
                result.smtpUTF8 = true
            case "RET":
                switch value?.uppercased() {
                case "FULL": result.returnContent = .full
                case "HDRS": result.returnContent = .headers
                default: throw .badValue("RET must be FULL or HDRS")
                }
            case "ENVID":
                guard let value, let decoded = XText.decode(value), decoded.count <= maxEnvelopeIDLength,
                    decoded.allSatisfy({ $0 >= 32 && $0 < 127 })
                else { throw .badValue("ENVID must be xtext of at most 100 printable characters") }
                result.envelopeID = String(decoding: decoded, as: UTF8.self)
            case "AUTH":
                guard let value else { throw .badValue("AUTH needs a value") }
                if value == "<>" {
                    result.authorizedSender = ""
                } else {
                    // An addr-spec (RFC 4954 5): never spaces or control characters.
                    guard let decoded = XText.decode(value), !decoded.contains(UInt8(ascii: " ")),
                        let text = SafeText.text(decoded)
                    else { throw .badValue("AUTH must be xtext of an address, or <>") }
                    result.authorizedSender = text
                }
            default:
                throw .unrecognized("unrecognized parameter \(parameter.keyword)")
            }
        }
        return result
    }

    static func rcpt(_ parameters: [ESMTPParameter]) throws(Failure) -> (NotifyConditions?, OriginalRecipient?) {
        var notify: NotifyConditions?
        var original: OriginalRecipient?
        for parameter in parameters {
            switch parameter.keyword {
            case "NOTIFY":
                guard let value = parameter.value, let parsed = NotifyConditions(parameter: value) else {
                    throw .badValue("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY")
                }
                notify = parsed
            case "ORCPT":
                guard let value = parameter.value, let semicolon = value.firstIndex(of: ";") else {
                    throw .badValue("ORCPT must be addr-type;xtext")
                }
                let type = value[..<semicolon]
                guard !type.isEmpty, type.utf8.allSatisfy({ isDigit($0) || isLetter($0) || $0 == UInt8(ascii: "-") }),
                    let decoded = XText.decode(value[value.index(after: semicolon)...]),
                    !decoded.isEmpty, decoded.count <= maxOriginalRecipientLength,
                    let address = SafeText.text(decoded)
                else { throw .badValue("ORCPT must be addr-type;xtext, without control characters") }
                original = OriginalRecipient(addressType: type.lowercased(), address: address)
            default:
                throw .unrecognized("unrecognized parameter \(parameter.keyword)")
            }
        }
        return (notify, original)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 97 && (byte | 0x20) <= 122 }
}
