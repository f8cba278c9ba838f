import NIOCore
import ProtocolSupport

extension POP3Session {
    mutating func handle(_ line: [UInt8]) {
        let command: POP3Command
        switch POP3Command.parse(line) {
        case .success(let parsed): command = parsed
        case .failure(.unknown(let keyword)):
            return fail("Unknown command \(keyword.filter { $0.isASCII && !$0.isWhitespace })")
        case .failure(.syntax(let text)): return fail("Syntax: \(text)")
        }
        switch (command, state) {
        case (.capa, _): capabilities()
        case (.noop, .transaction): send(ok: "")
        case (.quit, .transaction): quit()
        case (.quit, _):
            send(ok: "\(configuration.hostname) signing off")
            state = .closed
            emit(.close)
        case (.stls, .authorization): startTLS()
        case (.user(let name), .authorization): userCommand(name)
        case (.pass(let password), .authorization(let user)): passCommand(password, user: user)
        case (.auth(let mechanism, let initialResponse), .authorization): auth(mechanism, initialResponse)
        case (.stat, .transaction): send(ok: "\(maildrop.count - deleted.count) \(octets)")
        case (.list(let number), .transaction): scanListing(number, header: "scan listing") { "\($0.size)" }
        case (.uidl(let number), .transaction): scanListing(number, header: "unique-id listing") { $0.uniqueID }
        case (.retr(let number), .transaction): sendMessage(number, bodyLines: nil)
        case (.top(let number, let lines), .transaction): sendMessage(number, bodyLines: lines)
        case (.dele(let number), .transaction): delete(number)
        case (.rset, .transaction):
            deleted.removeAll()
            send(ok: "\(maildrop.count) message\(maildrop.count == 1 ? "" : "s") (\(octets) octets)")
        case (_, .transaction): fail("Not in the transaction state")
        default: fail("Log in first")
        }
    }

    // MARK: AUTHORIZATION

    /// RFC 2449 CAPA, telling the truth for this moment: STLS until TLS is up; USER and SASL only inside TLS
    /// and before login.
    mutating func capabilities() {
        var lines = ["+OK Capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if state != .transaction {
            if !tlsActive && configuration.tlsAvailable { lines.append("STLS") }
            if tlsActive { lines += ["USER", "SASL PLAIN"] }
        }
        lines += ["IMPLEMENTATION Relaygate", "."]
        emit(.send(lines.map { $0 + "\r\n" }.joined()))
    }

    mutating func startTLS() {
        guard configuration.tlsAvailable, !tlsActive else {
            return fail(tlsActive ? "TLS is already active" : "STLS is not available here")
        }
        send(ok: "Begin TLS negotiation")
        // Nothing the client sent in plaintext after STLS may be read as if it came inside TLS (RFC 2595 4).
        input.clear()
        framer = CRLFLineFramer(maxLineLength: configuration.maxCommandLength)
        tlsStarting = true
        emit(.startTLS)
    }

    mutating func userCommand(_ name: String) {
        guard tlsActive else { return fail(Self.plaintextRefusal) }
        state = .authorization(user: name)
        send(ok: "Send PASS")
    }

    mutating func passCommand(_ password: String, user: String?) {
        guard tlsActive else { return fail(Self.plaintextRefusal) }
        guard let user else { return fail("Send USER first") }
        verify(Credentials(mechanism: "USER", username: user, password: password))
    }

    mutating func auth(_ mechanism: String?, _ initialResponse: String?) {
        guard let mechanism else {
            // A bare AUTH lists the mechanisms, as many clients probe (RFC 1734's habit).
            emit(.send(tlsActive ? "+OK\r\nPLAIN\r\n.\r\n" : "+OK\r\n.\r\n"))
            return
        }
        guard tlsActive else { return fail(Self.plaintextRefusal) }
        guard mechanism == "PLAIN" else { return fail("Unsupported mechanism; PLAIN is offered") }
        if let initialResponse {
            // "=" is an empty initial response (RFC 5034 4).
            saslCredentials(Array((initialResponse == "=" ? "" : initialResponse).utf8))
        } else {
            state = .saslResponse
            emit(.send("+ \r\n"))
        }
    }

    mutating func saslResponse(_ line: [UInt8]) {
        state = .authorization(user: nil)
        if line == [UInt8(ascii: "*")] { return fail("AUTH cancelled") }
        saslCredentials(line)
    }

    private mutating func saslCredentials(_ response: [UInt8]) {
        guard let credentials = SASLPlain.credentials(fromBase64: response) else {
            state = .authorization(user: nil)
            return fail("[AUTH] Invalid PLAIN response")
        }
        verify(credentials)
    }

    private mutating func verify(_ credentials: Credentials) {
        state = .verifyingCredentials(user: credentials.username, mechanism: credentials.mechanism)
        emit(.verifyCredentials(credentials))
    }

    static let plaintextRefusal = "[AUTH] Plaintext login is not allowed: send STLS first, or use port 995"

    // MARK: TRANSACTION

    /// The index of a message the client may name (RFC 1939 numbers from 1; deleted ones are off limits).
    mutating func index(of number: Int) -> Int? {
        guard number >= 1, number <= maildrop.count else {
            fail("No such message")
            return nil
        }
        guard !deleted.contains(number - 1) else {
            fail("Message \(number) is deleted")
            return nil
        }
        return number - 1
    }

    mutating func scanListing(_ number: Int?, header: String, _ value: (MaildropEntry) -> String) {
        if let number {
            guard let index = index(of: number) else { return }
            return send(ok: "\(number) \(value(maildrop[index]))")
        }
        var text = "+OK \(header) follows\r\n"
        for (index, entry) in maildrop.enumerated() where !deleted.contains(index) {
            text += "\(index + 1) \(value(entry))\r\n"
        }
        emit(.send(text + ".\r\n"))
    }

    mutating func sendMessage(_ number: Int, bodyLines: Int?) {
        guard let index = index(of: number) else { return }
        state = .sendingMessage
        let status = bodyLines == nil ? "+OK \(maildrop[index].size) octets\r\n" : "+OK top of message follows\r\n"
        emit(.sendMessage(index: index, bodyLines: bodyLines, status: status))
    }

    mutating func delete(_ number: Int) {
        guard let index = index(of: number) else { return }
        deleted.insert(index)
        send(ok: "Message \(number) deleted")
    }

    mutating func quit() {
        state = .update
        if deleted.isEmpty {
            updateFinished(removed: true)
        } else {
            emit(.removeMessages(deleted.sorted()))
        }
    }
}
