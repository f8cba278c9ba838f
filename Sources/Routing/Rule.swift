import MailModel

/// Where a rule was written: `file:line`, as errors and envelopes name it.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let file: String
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line) < (rhs.file, rhs.line)
    }
}

/// One address rule: which recipients it matches and what becomes of them.
public struct AddressRule: Sendable {
    public enum Pattern: Sendable {
        /// `local@domain`: that address (local part and domain compared case-insensitively).
        case exact(EmailAddress)
        /// `@domain`: any other address at the domain.
        case catchAll(Domain)
        /// `/regex/`: addresses (written `local@domain`, lower-cased) the expression matches; its groups
        /// fill `$1`…`$9` in the targets. `domain` is the literal domain it ends with, if it names one.
        case regex(source: String, domain: Domain?)
    }

    public enum Action: Sendable {
        case forward([Target])
        case reject(SMTPReply)
        case discard
    }

    public enum Target: Sendable, Hashable, CustomStringConvertible {
        case address(EmailAddress)
        /// An address with `$1`…`$9` to fill from a regular expression's groups.
        case template(String)
        /// A local Maildir.
        case mailbox(String)

        public var description: String {
            switch self {
            case .address(let address): "\(address)"
            case .template(let text): text
            case .mailbox(let name): "mailbox:\(name)"
            }
        }
    }

    public let pattern: Pattern
    public let action: Action
    public let location: SourceLocation
}

/// One `route` line: how mail for a domain leaves.
public struct RouteRule: Sendable {
    public enum Match: Sendable, Hashable, CustomStringConvertible {
        /// `route example.com`: that domain.
        case domain(String)
        /// `route .example.com`: any subdomain of it (not the domain itself).
        case subdomains(String)
        /// `route *`: everything else.
        case any

        public var description: String {
            switch self {
            case .domain(let key): key
            case .subdomains(let key): "." + key
            case .any: "*"
            }
        }
    }

    public let match: Match
    public let route: Route
    public let location: SourceLocation
}

/// A problem in the rules, with where it is.
public struct RulesError: Error, Sendable, Equatable, CustomStringConvertible {
    public let location: SourceLocation
    public let message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// Every problem found at once, in file order, so one `relaygate check` shows them all.
public struct RulesErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [RulesError]

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
