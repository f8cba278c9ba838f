import MailModel
import ProtocolSupport

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SMTPServerSession {
    /// The SASL exchange in progress (RFC 4954 4): which response we wait for.
    enum SASLExchange {
        case plain
        case loginUsername
        case loginPassword(username: String)
    }

    /// AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN, only over TLS, once, outside a transaction.
    mutating func auth(mechanism: String, initialResponse: String?) {
        guard configuration.authAvailable else { return fail(.authNotAvailable, command: "AUTH") }
        guard hello?.extended == true else { return fail(.badSequence("Send EHLO first"), command: "AUTH") }
        guard tls.isEstablished else { return fail(.encryptionRequired, command: "AUTH") }
        guard authenticatedUser == nil else { return fail(.badSequence("Already authenticated"), command: "AUTH") }
        guard state.transaction == nil else {
            return fail(.badSequence("Mail transaction in progress"), command: "AUTH")
        }
        switch mechanism {
        case "PLAIN":
            if let initialResponse {
                // "=" is an empty initial response (RFC 4954 4).
                saslResponseReceived(Array((initialResponse == "=" ? "" : initialResponse).utf8), exchange: .plain)
            } else {
                state = .saslResponse(.plain)
                emit(.send(.saslPlainChallenge))
            }
        case "LOGIN":
            if let initialResponse {
                saslResponseReceived(Array(initialResponse.utf8), exchange: .loginUsername)
            } else {
                state = .saslResponse(.loginUsername)
                emit(.send(.saslUsernameChallenge))
            }
        default:
            fail(.unknownMechanism, command: "AUTH")
        }
    }

    /// One base64 line from the client during AUTH.
    mutating func saslResponseReceived(_ line: [UInt8], exchange: SASLExchange) {
        state = .ready
        if line == [UInt8(ascii: "*")] { return fail(.authCanceled, command: "AUTH") }
        guard Data(base64Encoded: Data(line)) != nil else { return fail(.base64Invalid, command: "AUTH") }
        switch exchange {
        case .plain:
            guard let credentials = SASLPlain.credentials(fromBase64: line) else {
                return fail(.authInvalid, command: "AUTH")
            }
            verify(credentials)
        case .loginUsername:
            guard let username = base64UTF8(line) else {
                return fail(.authInvalid, command: "AUTH")
            }
            state = .saslResponse(.loginPassword(username: username))
            emit(.send(.saslPasswordChallenge))
        case .loginPassword(let username):
            guard let password = base64UTF8(line) else {
                return fail(.authInvalid, command: "AUTH")
            }
            verify(Credentials(mechanism: "LOGIN", username: username, password: password))
        }
    }

    /// A LOGIN response: base64 of UTF-8 text.
    private func base64UTF8(_ line: [UInt8]) -> String? {
        Data(base64Encoded: Data(line)).flatMap { String(validating: Array($0), as: UTF8.self) }
    }

    private mutating func verify(_ credentials: Credentials) {
        state = .verifyingCredentials(username: credentials.username)
        emit(.verifyCredentials(credentials))
    }

    /// The driver checked the credentials of `.verifyCredentials`.
    public mutating func authenticationFinished(_ result: AuthenticationResult) {
        guard case .verifyingCredentials(let username) = state else { return }
        state = .ready
        switch result {
        case .accepted:
            authenticatedUser = username
            emit(.send(.authenticated))
        case .rejected:
            fail(.authInvalid, command: "AUTH")
        case .temporaryFailure:
            emit(.send(.authTemporaryFailure))
        }
    }
}
