import MailModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The client side of SMTP (RFC 5321), as a pure state machine mirroring `SMTPServerSession`: the driver
/// feeds it the server's replies (`receive`), TLS outcomes and timeouts, and carries out the actions it
/// pulls with `next()`.
///
/// One session is one connection. It greets with EHLO (HELO when EHLO is refused and nothing needs an
/// extension), upgrades with STARTTLS as its `TLSPolicy` says, authenticates with PLAIN or LOGIN when it has
/// credentials, then delivers the messages given to `send`, one transaction each, separated by RSET, with
/// MAIL, every RCPT and DATA sent as one group when the server offers PIPELINING (RFC 2920). Each message
/// ends with a `messageFinished` action that holds one result per recipient. A failure before a
/// transaction (connect, greeting, TLS, EHLO, AUTH) ends the connection with `connectionFailed`: the
/// caller tries the next host.
public struct SMTPClientSession: Sendable {
    public enum TLSPolicy: Sendable, Equatable {
        /// Never STARTTLS.
        case never
        /// STARTTLS when offered; carry on in plaintext when not.
        case opportunistic
        /// STARTTLS or fail (a temporary failure).
        case required
        /// TLS from the first byte (port 465, RFC 8314): no STARTTLS.
        case implicit
    }

    public struct Configuration: Sendable {
        public var heloName: String
        public var tls: TLSPolicy
        public var username: String?
        public var password: String?

        public init(heloName: String, tls: TLSPolicy, username: String? = nil, password: String? = nil) {
            self.heloName = heloName
            self.tls = tls
            self.username = username
            self.password = password
        }
    }

    /// One message to send: the envelope as stored, and which of its recipients this connection takes.
    public struct Message: Sendable {
        public var sender: ReversePath
        public var recipients: [Recipient]
        public var parameters: MailParameters
        /// Octets of the content, for SIZE.
        public var size: Int
        public var has8BitContent: Bool

        public init(
            sender: ReversePath, recipients: [Recipient], parameters: MailParameters, size: Int, has8BitContent: Bool
        ) {
            self.sender = sender
            self.recipients = recipients
            self.parameters = parameters
            self.size = size
            self.has8BitContent = has8BitContent
        }

        var needsSMTPUTF8: Bool {
            parameters.smtpUTF8 || !sender.isASCII || recipients.contains { !$0.address.isASCII }
        }
    }

    /// Where in the dialog something went wrong; log lines and the envelope name it. `dns` is before any
    /// connection (finding the mail hosts), `queue` is our own queue (a message that outlived its lifetime).
    public enum Stage: String, Sendable, Equatable {
        case dns = "DNS", queue
        case connect, greeting, tls = "TLS", ehlo = "EHLO", auth = "AUTH", mail = "MAIL", rcpt = "RCPT"
        case data = "DATA"
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let stage: Stage
        public let reply: SMTPReply?
        public let detail: String
        public let isPermanent: Bool
        /// The RFC 3463 status a DSN and the log give, when no reply carries one (5.4.4 for a mail host that
        /// does not exist, 4.4.7 / 5.4.7 for a message that waited too long).
        public let status: EnhancedStatusCode?

        /// `detail` may hold what a peer sent (a malformed line, a TLS alert): it is made safe and bounded
        /// here, since a failure ends up in the envelope, `queue show` and bounces.
        public init(stage: Stage, reply: SMTPReply?, detail: String, isPermanent: Bool, status: EnhancedStatusCode? = nil) {
            self.stage = stage
            self.reply = reply
            self.detail = SafeText.sanitized(detail, limit: Self.maxTextLength)
            self.isPermanent = isPermanent
            self.status = status
        }

        /// The longest text a failure keeps (its detail, its description): enough for any real reply.
        public static let maxTextLength = 1000

        static func reply(_ stage: Stage, _ reply: SMTPReply) -> Failure {
            Failure(stage: stage, reply: reply, detail: "", isPermanent: reply.isPermanentFailure)
        }

        /// `RCPT: 450 4.2.0 mailbox busy`, at most `maxTextLength` characters, nothing but safe text.
        public var description: String {
            var text = "\(stage.rawValue): "
            if let reply { text += reply.summary(limit: Self.maxTextLength) }
            if !detail.isEmpty { text += reply == nil ? detail : " (\(detail))" }
            return SafeText.sanitized(text, limit: Self.maxTextLength)
        }
    }

    public enum RecipientResult: Sendable, Equatable {
        /// The server took the message for this recipient (its final reply to the content).
        case delivered(SMTPReply)
        case failed(Failure)
    }

    public enum Action: Sendable, Equatable {
        /// Write these command lines (CRLF included).
        case send(String)
        /// The server said 220 to STARTTLS: start the TLS handshake, then call `tlsEstablished` or `tlsFailed`.
        case startTLS
        /// The server said 354: write the content, dot-stuffed, and the final `.` line; then wait for a reply.
        case sendContent
        /// The current message is done: a result per recipient, in the order given.
        case messageFinished([RecipientResult])
        /// The connection failed before a transaction could finish: nothing more will be sent on it. A
        /// message in progress gets its `messageFinished` (temporary failures) first.
        case connectionFailed(Failure)
        case close
    }

    enum State: Equatable, Sendable {
        case greeting
        case ehlo(afterTLS: Bool)
        case helo
        case startTLS
        case handshaking
        case authPlain
        case authLogin(step: Int)
        case ready
        /// Replies still expected for the transaction in progress, in order.
        case transaction
        case content
        case rset
        case quit
        case closed
    }

    enum Expected: Equatable, Sendable {
        case mail
        case rcpt(Int)
        case data
    }

    public let configuration: Configuration
    var state = State.greeting
    var extensions: [String: String] = [:]
    var tlsActive: Bool
    var queue: [Message] = []
    var current: Message?
    var results: [RecipientResult?] = []
    var expected: [Expected] = []
    var mailAccepted = false
    /// A transaction happened since the last RSET: the next one starts with RSET.
    var needsReset = false
    /// The transaction's commands went as one group (PIPELINING); otherwise `unsent` holds the rest.
    var pipelining = false
    var unsent: [String] = []
    var finishing = false
    var pending: [Action] = []

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.tlsActive = configuration.tls == .implicit
    }

    // MARK: Events

    /// Queue a message for this connection.
    public mutating func send(_ message: Message) {
        queue.append(message)
        if state == .ready { nextMessageOrQuit() }
    }

    /// No more messages: QUIT once the queue is empty.
    public mutating func finish() {
        finishing = true
        if state == .ready { quit() }
    }

    public var isIdle: Bool { state == .ready && queue.isEmpty }
    public var isClosed: Bool { state == .closed }
    /// True while waiting for the reply to the content's final dot (RFC 5321 4.5.3.2.6: 10 minutes).
    public var awaitsFinalReply: Bool { state == .content }
    /// Extensions the server announced in its last EHLO reply, upper-cased, with their parameters.
    public var serverExtensions: [String: String] { extensions }

    public mutating func receive(_ reply: SMTPReply) {
        switch state {
        case .greeting:
            guard reply.code == 220 else { return failConnection(.reply(.greeting, reply)) }
            sendLine("EHLO \(configuration.heloName)")
            state = .ehlo(afterTLS: tlsActive)
        case .ehlo(let afterTLS):
            ehloReplied(reply, afterTLS: afterTLS)
        case .helo:
            guard reply.code == 250 else { return failConnection(.reply(.ehlo, reply)) }
            extensions = [:]
            afterHello()
        case .startTLS:
            if reply.code == 220 {
                state = .handshaking
                emit(.startTLS)
            } else if configuration.tls == .required {
                failConnection(Failure(stage: .tls, reply: reply, detail: "STARTTLS refused", isPermanent: false))
            } else {
                authenticateOrReady()
            }
        case .authPlain:
            authReplied(reply)
        case .authLogin(let step):
            if step < 2 && reply.code == 334 {
                let value = step == 0 ? configuration.username ?? "" : configuration.password ?? ""
                state = .authLogin(step: step + 1)
                sendLine(Data(value.utf8).base64EncodedString())
            } else {
                authReplied(reply)
            }
        case .transaction:
            transactionReplied(reply)
        case .content:
            let outcome: RecipientResult = reply.code == 250 ? .delivered(reply) : .failed(.reply(.data, reply))
            for index in results.indices where results[index] == nil { results[index] = outcome }
            finishMessage()
        case .rset:
            guard reply.code == 250 else {
                return failConnection(Failure(stage: .mail, reply: reply, detail: "RSET refused", isPermanent: false))
            }
            state = .ready
            needsReset = false
            nextMessageOrQuit()
        case .quit:
            state = .closed
            emit(.close)
        case .ready, .handshaking, .closed:
            // A reply nobody asked for: the server is confused; stop talking to it.
            failConnection(Failure(stage: stage, reply: reply, detail: "unexpected reply", isPermanent: false))
        }
    }

    public mutating func tlsEstablished() {
        guard state == .handshaking else { return }
        tlsActive = true
        sendLine("EHLO \(configuration.heloName)")
        state = .ehlo(afterTLS: true)
    }

    public mutating func tlsFailed(_ detail: String) {
        // After QUIT's reply many servers close without a TLS close_notify: nothing is lost then.
        guard state != .closed else { return }
        if state == .quit {
            state = .closed
            return
        }
        failConnection(Failure(stage: .tls, reply: nil, detail: detail, isPermanent: false))
    }

    /// The connection broke, timed out, or the server sent bytes that are no reply.
    public mutating func connectionLost(_ detail: String) {
        guard state != .closed else { return }
        if state == .quit {
            state = .closed
            return
        }
        failConnection(Failure(stage: stage, reply: nil, detail: detail, isPermanent: false))
    }

    /// The stage a failure now would be blamed on.
    public var stage: Stage {
        switch state {
        case .greeting: .greeting
        case .ehlo, .helo: .ehlo
        case .startTLS, .handshaking: .tls
        case .authPlain, .authLogin: .auth
        case .transaction:
            switch expected.first {
            case .rcpt: .rcpt
            case .data: .data
            default: .mail
            }
        case .content: .data
        case .ready, .rset, .quit, .closed: .mail
        }
    }

    public mutating func contentSent() {
        // Nothing to do: the final reply moves the state on. Kept so drivers say what happened.
    }

    // MARK: Pulling actions

    public mutating func next() -> Action? {
        pending.isEmpty ? nil : pending.removeFirst()
    }

    // MARK: Greeting and extensions

    private mutating func ehloReplied(_ reply: SMTPReply, afterTLS: Bool) {
        guard reply.code == 250 else {
            // RFC 5321 4.1.4: a server that does not know EHLO may know HELO — unless we need an extension.
            if reply.isPermanentFailure && !afterTLS && configuration.tls != .required && configuration.username == nil
            {
                sendLine("HELO \(configuration.heloName)")
                state = .helo
                return
            }
            return failConnection(.reply(.ehlo, reply))
        }
        extensions = [:]
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ", maxSplits: 1)
            guard let keyword = words.first else { continue }
            extensions[keyword.uppercased()] = words.count > 1 ? String(words[1]) : ""
        }
        afterHello()
    }

    private mutating func afterHello() {
        if !tlsActive && (configuration.tls == .opportunistic || configuration.tls == .required) {
            if extensions["STARTTLS"] != nil {
                sendLine("STARTTLS")
                state = .startTLS
                return
            }
            if configuration.tls == .required {
                return failConnection(
                    Failure(stage: .tls, reply: nil, detail: "server does not offer STARTTLS", isPermanent: false))
            }
        }
        authenticateOrReady()
    }

    private mutating func authenticateOrReady() {
        guard let username = configuration.username else {
            state = .ready
            return nextMessageOrQuit()
        }
        let mechanisms = Set((extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init))
        if mechanisms.contains("PLAIN") {
            let token = Data(([0] + Array(username.utf8) + [0] + Array((configuration.password ?? "").utf8)))
            state = .authPlain
            sendLine("AUTH PLAIN " + token.base64EncodedString())
        } else if mechanisms.contains("LOGIN") {
            state = .authLogin(step: 0)
            sendLine("AUTH LOGIN")
        } else {
            failConnection(
                Failure(
                    stage: .auth, reply: nil,
                    detail: extensions["AUTH"] == nil
                        ? "server offers no AUTH\(tlsActive ? "" : " (before TLS)")" : "server offers neither PLAIN nor LOGIN",
                    isPermanent: false))
        }
    }

    private mutating func authReplied(_ reply: SMTPReply) {
        guard reply.code == 235 else {
            // Wrong credentials are ours to fix, not the sender's: temporary, so mail waits for the fix.
            return failConnection(Failure(stage: .auth, reply: reply, detail: "", isPermanent: false))
        }
        state = .ready
        nextMessageOrQuit()
    }

    mutating func failConnection(_ failure: Failure) {
        if current != nil {
            for index in results.indices where results[index] == nil { results[index] = .failed(failure) }
            emit(.messageFinished(results.map { $0! }))
            current = nil
        }
        queue = []
        state = .closed
        emit(.connectionFailed(failure))
        emit(.close)
    }

    mutating func sendLine(_ line: String) {
        emit(.send(line + "\r\n"))
    }

    mutating func emit(_ action: Action) {
        pending.append(action)
    }
}
