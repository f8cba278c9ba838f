import MailModel

/// A parsed SMTP command line (RFC 5321 4.1.1, plus STARTTLS RFC 3207 and AUTH RFC 4954).
public enum SMTPCommand: Equatable, Sendable {
    case ehlo(String)
    case helo(String)
    case mail(ReversePath, [ESMTPParameter])
    case rcpt(ForwardPath, [ESMTPParameter])
    case data
    case rset
    case noop
    case quit
    case vrfy(String)
    case help
    case startTLS
    case auth(mechanism: String, initialResponse: String?)
}

/// The argument of RCPT TO: a mailbox, or the bare `<Postmaster>` every server must accept (RFC 5321 4.1.1.3).
public enum ForwardPath: Equatable, Sendable {
    case mailbox(EmailAddress)
    case postmaster
}

/// `esmtp-keyword ["=" esmtp-value]` (RFC 5321 4.1.2). The keyword is upper-cased; the value is as sent.
public struct ESMTPParameter: Equatable, Sendable {
    public let keyword: String
    public let value: String?

    public init(_ keyword: String, _ value: String?) {
        self.keyword = keyword
        self.value = value
    }
}

/// Why a command line was refused before it reached the session's state: each case is one reply.
public enum SMTPCommandError: Error, Equatable, Sendable {
    /// Not a command we know: 500.
    case unknownCommand
    /// A command of RFC 5321 or a common extension we do not offer (EXPN, BDAT, TURN, ...): 502.
    case notImplemented(String)
    /// An HTTP verb on the SMTP port: a cross-protocol attack, answered by closing (as Postfix does).
    case nonSMTP(String)
    /// Malformed arguments: 501, with a message that says what is wrong.
    case syntax(String)
    /// A bad sender or recipient address: 501 5.1.7 or 5.1.3.
    case badAddress(AddressSyntaxError, isSender: Bool)
    /// Bytes that cannot be part of a command: a bare CR or LF, NUL, or invalid UTF-8.
    case badCharacters
}
