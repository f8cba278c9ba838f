/// A POP3 command line, parsed (RFC 1939 3: a keyword, case-insensitive, and arguments separated by single
/// spaces; RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).
public enum POP3Command: Equatable, Sendable {
    case user(String)
    case pass(String)
    case auth(mechanism: String?, initialResponse: String?)
    case capa
    case stls
    case stat
    case list(Int?)
    case uidl(Int?)
    case retr(Int)
    case top(Int, lines: Int)
    case dele(Int)
    case noop
    case rset
    case quit

    public enum ParseError: Error, Equatable, Sendable {
        case unknown(String)
        case syntax(String)
    }

    /// Parses a line without its CRLF.
    public static func parse(_ line: [UInt8]) -> Result<POP3Command, ParseError> {
        guard let text = String(validating: line, as: UTF8.self) else { return .failure(.syntax("not UTF-8")) }
        let keyword = text.prefix { $0 != " " }.uppercased()
        let rest = text.dropFirst(keyword.count).drop { $0 == " " }
        let arguments = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        func parseNumber(_ text: String) -> Int? {
            guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCII), let value = Int(text), value >= 0
            else { return nil }
            return value
        }
        func none(_ command: POP3Command) -> Result<POP3Command, ParseError> {
            arguments.isEmpty ? .success(command) : .failure(.syntax("\(keyword) takes no argument"))
        }
        func message(_ make: (Int) -> POP3Command) -> Result<POP3Command, ParseError> {
            guard arguments.count == 1, let value = parseNumber(arguments[0]) else {
                return .failure(.syntax("\(keyword) needs a message number"))
            }
            return .success(make(value))
        }
        func optionalMessage(_ make: (Int?) -> POP3Command) -> Result<POP3Command, ParseError> {
            if arguments.isEmpty { return .success(make(nil)) }
            return message { make($0) }
        }
        switch keyword {
        case "USER":
            // RFC 1939 leaves spaces in names unsaid; ours have none (UsersFile.isValidName).
            guard arguments.count == 1 else { return .failure(.syntax("USER needs a name")) }
            return .success(.user(arguments[0]))
        case "PASS":
            // The whole rest of the line: passwords may contain spaces (RFC 1939 7, as most servers do).
            guard !rest.isEmpty else { return .failure(.syntax("PASS needs a password")) }
            return .success(.pass(String(rest)))
        case "AUTH":
            guard arguments.count <= 2 else { return .failure(.syntax("AUTH mechanism [initial-response]")) }
            return .success(
                .auth(mechanism: arguments.first?.uppercased(), initialResponse: arguments.dropFirst().first))
        case "CAPA": return none(.capa)
        case "STLS": return none(.stls)
        case "STAT": return none(.stat)
        case "NOOP": return none(.noop)
        case "RSET": return none(.rset)
        case "QUIT": return none(.quit)
        case "LIST": return optionalMessage { .list($0) }
        case "UIDL": return optionalMessage { .uidl($0) }
        case "RETR": return message { .retr($0) }
        case "DELE": return message { .dele($0) }
        case "TOP":
            guard arguments.count == 2, let number = parseNumber(arguments[0]), let lines = parseNumber(arguments[1])
            else {
                return .failure(.syntax("TOP needs a message number and a line count"))
            }
            return .success(.top(number, lines: lines))
        default:
            return .failure(.unknown(String(keyword.prefix(20))))
        }
    }
}
