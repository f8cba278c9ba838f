import MailModel

/// Every reply the server session sends, in one place, so codes and texts stay consistent and each can be
/// checked against RFC 5321 4.2 and RFC 3463.
extension SMTPReply {
    static func greeting(_ hostname: String) -> SMTPReply { SMTPReply(220, nil, "\(hostname) ESMTP Relaygate") }
    static func closing(_ hostname: String) -> SMTPReply {
        SMTPReply(221, .init(2, 0, 0), "\(hostname) closing connection")
    }
    static let ok = SMTPReply(250, .init(2, 0, 0), "Ok")
    static let senderOk = SMTPReply(250, .init(2, 1, 0), "Sender ok")
    static let recipientOk = SMTPReply(250, .init(2, 1, 5), "Recipient ok")
    static func queued(_ id: QueueID) -> SMTPReply { SMTPReply(250, .init(2, 0, 0), "Ok: queued as \(id)") }
    static let help = SMTPReply(
        214, .init(2, 0, 0),
        ["Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH", "See RFC 5321"])
    static let cannotVerify = SMTPReply(
        252, .init(2, 5, 2), "Cannot VRFY user; send mail and it will be delivered or bounced")
    static let startData = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    static let readyForTLS = SMTPReply(220, .init(2, 0, 0), "Ready to start TLS")
    static let authenticated = SMTPReply(235, .init(2, 7, 0), "Authentication successful")
    static let saslPlainChallenge = SMTPReply(334, nil, "")
    static let saslUsernameChallenge = SMTPReply(334, nil, "VXNlcm5hbWU6")
    static let saslPasswordChallenge = SMTPReply(334, nil, "UGFzc3dvcmQ6")

    // 4xx: try again later.
    static let shuttingDown = SMTPReply(421, .init(4, 3, 2), "Service shutting down, try again later")
    static let timeout = SMTPReply(421, .init(4, 4, 2), "Timeout exceeded, closing connection")
    static let tooManyErrors = SMTPReply(421, .init(4, 7, 0), "Too many errors, closing connection")
    static let tooManyConnections = SMTPReply(421, .init(4, 7, 0), "Too many connections, try again later")
    static let tooManyConnectionsFromClient = SMTPReply(
        421, .init(4, 7, 0), "Too many connections from your address, try again later")
    static let localError = SMTPReply(451, .init(4, 3, 0), "Requested action aborted: local error in processing")
    static let insufficientStorage = SMTPReply(452, .init(4, 3, 1), "Insufficient system storage, try again later")
    static let tooManyRecipients = SMTPReply(452, .init(4, 5, 3), "Too many recipients")
    static let authTemporaryFailure = SMTPReply(454, .init(4, 7, 0), "Temporary authentication failure")

    // 5xx: syntax and sequence.
    static let unknownCommand = SMTPReply(500, .init(5, 5, 1), "Command unrecognized")
    static let lineTooLong = SMTPReply(500, .init(5, 5, 2), "Line too long")
    static let badCharacters = SMTPReply(
        500, .init(5, 5, 2), "Syntax error: command contains a bare CR or LF, NUL, or invalid UTF-8")
    static func syntax(_ text: String) -> SMTPReply { SMTPReply(501, .init(5, 5, 4), text) }
    static func badSender(_ error: AddressSyntaxError) -> SMTPReply {
        SMTPReply(501, .init(5, 1, 7), "Bad sender address syntax: \(error)")
    }
    static func badRecipient(_ error: AddressSyntaxError) -> SMTPReply {
        SMTPReply(501, .init(5, 1, 3), "Bad recipient address syntax: \(error)")
    }
    static let base64Invalid = SMTPReply(501, .init(5, 5, 2), "Invalid base64 in authentication response")
    static let authCanceled = SMTPReply(501, .init(5, 7, 0), "Authentication canceled")
    static func notImplemented(_ verb: String) -> SMTPReply {
        SMTPReply(502, .init(5, 5, 1), "\(verb) not implemented")
    }
    static let authNotAvailable = SMTPReply(502, .init(5, 5, 1), "AUTH not available")
    static let tlsNotAvailable = SMTPReply(502, .init(5, 5, 1), "STARTTLS not available")
    static func badSequence(_ text: String) -> SMTPReply { SMTPReply(503, .init(5, 5, 1), text) }
    static let unknownMechanism = SMTPReply(504, .init(5, 5, 4), "Unrecognized authentication mechanism")
    static func unrecognizedParameter(_ text: String) -> SMTPReply { SMTPReply(555, .init(5, 5, 4), text) }

    // 5xx: policy and content.
    static let encryptionRequired = SMTPReply(
        538, .init(5, 7, 11), "Encryption required for requested authentication mechanism; use STARTTLS")
    static let authInvalid = SMTPReply(535, .init(5, 7, 8), "Authentication credentials invalid")
    static let messageTooBig = SMTPReply(552, .init(5, 3, 4), "Message size exceeds fixed maximum message size")
    static func senderNotOwned(_ sender: EmailAddress, user: String) -> SMTPReply {
        SMTPReply(553, .init(5, 7, 1), "<\(sender)>: sender address not allowed for user \(user)")
    }
    static let utf8Required = SMTPReply(553, .init(5, 6, 7), "Non-ASCII address needs the SMTPUTF8 parameter")
    static let noValidRecipients = SMTPReply(554, .init(5, 5, 1), "No valid recipients")
    static let earlyData = SMTPReply(
        554, .init(5, 5, 0), "Protocol error: message content sent before the 354 reply (RFC 2920 3.1)")
    static let bareLineEnding = SMTPReply(
        554, .init(5, 6, 0), "Message refused: bare CR or LF in content; lines must end with CRLF (RFC 5321 2.3.8)")
    static let nulInContent = SMTPReply(554, .init(5, 6, 0), "Message refused: NUL character in content")
    static let mailLoop = SMTPReply(554, .init(5, 4, 6), "Too many Received header fields: mail loop")
    static let nonSMTP = SMTPReply(421, .init(4, 7, 0), "This is an SMTP server, closing connection")
}
