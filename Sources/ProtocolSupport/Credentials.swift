#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A username and password to check. The password never appears in a description or a log.
public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable
{
    public let mechanism: String
    public let username: String
    public let password: String

    public init(mechanism: String, username: String, password: String) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
    }

    public var description: String { "\(mechanism) user=\(username) password=<redacted>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["mechanism": mechanism, "username": username]) }
}

/// The outcome of a credential check.
public enum AuthenticationResult: Sendable, Equatable {
    case accepted
    case rejected
    /// The check could not be made (the users file is unreadable, say).
    case temporaryFailure
}

/// SASL PLAIN (RFC 4616), as SMTP AUTH, POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE (RFC 3501 6.2.2) carry it.
public enum SASLPlain {
    /// Decodes a base64 client response: authzid NUL authcid NUL passwd, exactly two NULs, a non-empty
    /// authcid and password, all UTF-8. Acting for someone else (an authzid other than the authcid) is not
    /// supported. Nil when the response is not that.
    public static func credentials(fromBase64 line: some Collection<UInt8>) -> Credentials? {
        guard let decoded = Data(base64Encoded: Data(line)) else { return nil }
        let parts = Array(decoded).split(separator: 0, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty,
            let authzid = String(validating: parts[0], as: UTF8.self),
            let username = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self),
            authzid.isEmpty || authzid == username
        else { return nil }
        return Credentials(mechanism: "PLAIN", username: username, password: password)
    }
}
