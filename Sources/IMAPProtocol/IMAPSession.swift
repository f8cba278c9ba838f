import NIOCore
import ProtocolSupport

/// The server side of one IMAP connection (RFC 3501), as a pure state machine, like `SMTPServerSession` and
/// `POP3Session`: the driver feeds it events and carries out the `Action`s it returns.
///
/// So far it serves the not-authenticated state: greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN and
/// AUTHENTICATE PLAIN (with SASL-IR), literals with their continuations and limits. Passwords travel only
/// inside TLS (LOGINDISABLED before it, RFC 3501 6.2.3). The authenticated and selected states build on
/// this (see docs/mailboxes.md).
public struct IMAPSession: Sendable {
    public struct Configuration: Sendable {
        public var hostname: String
        /// STARTTLS can be offered (a certificate is set up).
        public var tlsAvailable: Bool
        /// Dovecot's limit too: long enough for the UID sets and ID lists real clients send.
        public var maxLineLength = 64 * 1024
        /// The largest literal once logged in: an APPENDed message, which is streamed (`streamLiteralsFrom`).
        public var maxLiteralSize = 50 << 20
        /// Before login no command needs more than a password: literals and whole commands are held to
        /// these, so a connection that has not logged in can make the server buffer little.
        public var maxLiteralSizeBeforeLogin = 8 * 1024
        public var maxCommandSizeBeforeLogin = 64 * 1024
        /// Refused commands before the connection is closed.
        public var maxErrors = 10
        /// Once logged in, literals this large or larger are streamed: only APPEND may send one, and its
        /// message goes to disk as it comes. Smaller ones are held, up to `maxCommandSize` for a command.
        public var streamLiteralsFrom = 64 * 1024
        public var maxCommandSize = 1 << 20
        /// Content one SEARCH may read (BODY, TEXT and header keys read messages): past it the command is
        /// answered NO [LIMIT] rather than read a mailbox of any size.
        public var maxSearchOctets = 2 << 30

        public init(hostname: String, tlsAvailable: Bool) {
            self.hostname = hostname
            self.tlsAvailable = tlsAvailable
        }
    }

    public enum Action: Equatable, Sendable {
        /// Write these lines (CRLF-terminated).
        case send(String)
        /// The OK to STARTTLS is written: start TLS, then call `tlsEstablished`.
        case startTLS
        /// Write these octets (a FETCH response whose literals may hold 8-bit content).
        case sendOctets([UInt8])
        /// Check the credentials, then call `authenticationFinished`.
        case verifyCredentials(Credentials)
        /// Carry this out on the user's mailbox, then call `requestFinished`.
        case request(IMAPRequest)
        /// An APPEND's message of `size` octets is coming: write it to a file as its chunks come, never
        /// holding it whole; the `appendStreamed` request that ends the command files it.
        case appendBegin(size: Int)
        case appendChunk(ByteBuffer)
        /// The APPEND being written failed (bad syntax after the message): drop what was written.
        case appendAbort
        /// Close once everything before it is written.
        case close
        case log(Event)
    }

    public enum Event: Equatable, Sendable {
        case authenticated(user: String, mechanism: String)
        case authenticationFailed(user: String, result: AuthenticationResult)
        case protocolError(String)
        /// What the client said it is (ID): `name=Thunderbird version=128.0`, for the log.
        case clientIdentified(String)
    }

    public enum Phase: Equatable, Sendable {
        case command
        case waitingForDriver
        case closed
    }

    enum State: Equatable {
        case notAuthenticated
        /// AUTHENTICATE PLAIN sent "+": the next line is the client's response.
        case saslResponse(tag: String)
        case verifying(tag: String, user: String, mechanism: String)
        case authenticated(user: String)
        /// A request is with the driver; `pending` says what to answer when it comes back.
        case requesting(tag: String, user: String, pending: Pending)
        /// IDLE (RFC 2177): changes are pushed until the client sends DONE.
        case idling(tag: String, user: String)
        case closed
    }

    public let configuration: Configuration
    var state: State = .notAuthenticated
    var tlsActive: Bool
    var tlsStarting = false
    var errorCount = 0
    var shutdownRequested = false
    /// Whole commands taken so far (SASL responses and IDLE's DONE included): the driver's idle clock
    /// restarts only when this moves, so trickling octets do not keep a connection alive, and an APPEND's
    /// message must arrive within the idle timeout of its command's start.
    public private(set) var commandsTaken = 0
    /// The APPEND whose message is being streamed, from its announcement to the end of the command.
    var streamingAppend: IMAPParser.AppendHead?
    /// The selected folder (RFC 3501 3.3), if any.
    var selection: Selection?
    var input = ByteBuffer()
    var framer: IMAPCommandFramer
    var pending = CircularBuffer<Action>(initialCapacity: 4)

    public init(configuration: Configuration, implicitTLS: Bool) {
        self.configuration = configuration
        tlsActive = implicitTLS
        framer = IMAPCommandFramer(
            maxLineLength: configuration.maxLineLength, maxLiteralSize: configuration.maxLiteralSizeBeforeLogin,
            maxCommandSize: configuration.maxCommandSizeBeforeLogin)
    }

    // MARK: Events from the driver

    public mutating func start() {
        emit(.send("* OK [CAPABILITY \(capabilities)] \(configuration.hostname) Relaygate IMAP ready\r\n"))
    }

    public mutating func receive(_ bytes: ByteBuffer) {
        // Plaintext arriving before the handshake ends is not to be trusted (RFC 3501 6.2.1).
        guard state != .closed, !tlsStarting else { return }
        if input.readableBytes == 0 {
            // Take the read as it is: appending it to a buffer that a streamed chunk still shares would copy
            // the whole buffer, and the buffer would keep every octet it ever held.
            input = bytes
        } else {
            var bytes = bytes
            input.writeBuffer(&bytes)
        }
        processInput()
    }

    public mutating func tlsEstablished() {
        tlsStarting = false
        tlsActive = true
        processInput()
    }

    public mutating func authenticationFinished(_ result: AuthenticationResult) {
        guard case .verifying(let tag, let user, let mechanism) = state else { return }
        switch result {
        case .accepted:
            emit(.log(.authenticated(user: user, mechanism: mechanism)))
            state = .authenticated(user: user)
            // Logged in: commands may carry more, and an APPEND's message is streamed.
            framer.maxLiteralSize = configuration.maxLiteralSize
            framer.maxCommandSize = configuration.maxCommandSize
            framer.streamLiteralsFrom = configuration.streamLiteralsFrom
            tagged(tag, "OK [CAPABILITY \(capabilities)] Logged in")
        case .rejected:
            emit(.log(.authenticationFailed(user: user, result: result)))
            state = .notAuthenticated
            fail(tag, "NO [AUTHENTICATIONFAILED] Invalid user name or password")
        case .temporaryFailure:
            emit(.log(.authenticationFailed(user: user, result: result)))
            state = .notAuthenticated
            tagged(tag, "NO [UNAVAILABLE] Cannot check passwords right now; try again later")
        }
        processInput()
    }

    public mutating func inputClosed() {
        state = .closed
    }

    /// The server is stopping: `* BYE` once the command in progress (if any) has been answered.
    public mutating func shutdownStarted() {
        shutdownRequested = true
        processInput()
    }

    /// The client sent nothing for the autologout time (RFC 3501 5.4).
    public mutating func timeoutFired() {
        guard state != .closed else { return }
        bye("Autologout: idle for too long")
    }

    public mutating func next() -> Action? {
        pending.popFirst()
    }

    public var phase: Phase {
        switch state {
        case .closed: .closed
        case .verifying, .requesting: .waitingForDriver
        // During the TLS handshake the driver must keep reading: the handshake comes that way.
        case .notAuthenticated, .saslResponse, .authenticated, .idling: .command
        }
    }

    // MARK: Capabilities

    /// What CAPABILITY says now (RFC 3501 7.2.1): STARTTLS and LOGINDISABLED before TLS, AUTH=PLAIN inside
    /// it, neither once logged in.
    var capabilities: String {
        var list = [
            "IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT",
        ]
        if state == .notAuthenticated || { if case .saslResponse = state { true } else { false } }() {
            if !tlsActive {
                if configuration.tlsAvailable { list.append("STARTTLS") }
                list.append("LOGINDISABLED")
            } else {
                list.append("AUTH=PLAIN")
            }
        }
        return list.joined(separator: " ")
    }

    // MARK: Input

    mutating func processInput() {
        if shutdownRequested && phase == .command { return bye("Server shutting down; reconnect later") }
        while phase == .command, !tlsStarting {
            guard let event = framer.next(from: &input) else { break }
            switch event {
            case .literalStreamStarted(let head, let size, let synchronizing):
                startStreamedAppend(head: head, size: size, synchronizing: synchronizing)
            case .literalChunk(let chunk):
                if streamingAppend != nil { emit(.appendChunk(chunk)) }
            case .command(let segments):
                commandsTaken += 1
                if let append = streamingAppend {
                    streamingAppend = nil
                    finishStreamedAppend(append, segments)
                } else if case .saslResponse(let tag) = state, case .line(let line)? = segments.first,
                    segments.count == 1
                {
                    saslResponse(line, tag: tag)
                } else if case .idling(let tag, let user) = state {
                    idleInput(segments, tag: tag, user: user)
                } else {
                    handle(segments)
                }
            case .continuationNeeded:
                emit(.send("+ Ready for literal data\r\n"))
            case .lineTooLong(let firstLine):
                // The client waits for its tagged reply: give it one when the tag can be read, or close.
                abandonStreamedAppend()
                if case .saslResponse = state { state = .notAuthenticated }
                if let tag = IMAPParser.tag(of: firstLine) {
                    fail(tag, "BAD Line too long")
                } else {
                    bye("Line too long")
                }
            case .literalTooLarge(let firstLine, let synchronizing):
                abandonStreamedAppend()
                let tag = IMAPParser.tag(of: firstLine) ?? "*"
                if synchronizing {
                    // The client waits for a "+" that will not come: it reads this NO instead (RFC 7888 4).
                    fail(tag, "NO [TOOBIG] Literal too large")
                } else {
                    // Its octets are already on the way; they cannot be told apart from commands.
                    bye("Literal too large")
                }
            }
        }
    }

    /// A literal too large to hold was announced. Only an APPEND's message may be one (logged in, not in
    /// IDLE): it is streamed to the driver. Anything else is refused before its octets are read, as a
    /// literal over the limit is.
    mutating func startStreamedAppend(head: [IMAPSegment], size: Int, synchronizing: Bool) {
        // A second one in the same command (MULTIAPPEND, which we do not offer): the first is dropped.
        abandonStreamedAppend()
        let parsed = IMAPParser.parseAppendHead(head)
        guard case .authenticated = state, case .success(let append) = parsed else {
            framer.refuseStream()
            var first: [UInt8] = []
            if case .line(let bytes)? = head.first { first = bytes }
            let tag = IMAPParser.tag(of: first) ?? "*"
            guard synchronizing else { return bye("Literal too large") }
            if case .failure(let failure) = parsed, failure.tag != nil {
                // Not an APPEND: no other command may send this much. An APPEND that does not parse: BAD.
                return fail(
                    tag,
                    failure.message == IMAPParser.onlyAppendStreams
                        ? "NO [TOOBIG] \(failure.message)" : "BAD \(failure.message)")
            }
            return fail(tag, "NO [TOOBIG] Literal too large")
        }
        streamingAppend = append
        guard synchronizing, case .authenticated(let user) = state else {
            // LITERAL+: the octets are on their way, so the folder is looked at when the command ends.
            return emit(.appendBegin(size: size))
        }
        // The client waits for our "+": look at the folder first, so a missing one costs it no upload
        // (RFC 3501 6.3.11 lets the server refuse before the literal).
        state = .requesting(tag: append.tag, user: user, pending: .appendTarget(size: size))
        emit(.request(.appendTarget(append.mailbox)))
    }

    /// The command a streamed APPEND was part of failed before it ended: what was written is dropped.
    mutating func abandonStreamedAppend() {
        guard streamingAppend != nil else { return }
        streamingAppend = nil
        emit(.appendAbort)
    }

    /// The command an APPEND's streamed message was part of has ended: nothing may follow the message.
    mutating func finishStreamedAppend(_ append: IMAPParser.AppendHead, _ segments: [IMAPSegment]) {
        guard case .authenticated(let user) = state, segments.count >= 2,
            case .streamedLiteral = segments[segments.count - 2], segments.last == .line([])
        else {
            emit(.appendAbort)
            return fail(append.tag, "BAD unexpected text after the message (one message per APPEND)")
        }
        state = .requesting(tag: append.tag, user: user, pending: .append)
        emit(
            .request(
                .appendStreamed(
                    append.mailbox, flags: Self.settable(append.flags), date: append.date?.secondsSince1970)))
    }

    /// True once the user has logged in.
    public var isAuthenticated: Bool {
        switch state {
        case .authenticated, .requesting, .idling: true
        case .notAuthenticated, .saslResponse, .verifying, .closed: false
        }
    }

    mutating func handle(_ segments: [IMAPSegment]) {
        let command: IMAPCommand
        switch IMAPParser.parse(segments) {
        case .success(let parsed): command = parsed
        case .failure(let failure): return fail(failure.tag, "BAD " + failure.message)
        }
        let tag = command.tag
        switch command.kind {
        case .capability:
            emit(.send("* CAPABILITY \(capabilities)\r\n"))
            tagged(tag, "OK CAPABILITY completed")
        case .id(let fields):
            // RFC 2971: in any state. Our name only, as Dovecot sends by default: a version helps attackers
            // more than clients.
            if !fields.isEmpty { emit(.log(.clientIdentified(Self.describe(fields)))) }
            emit(.send("* ID (\"name\" \"Relaygate\")\r\n"))
            tagged(tag, "OK ID completed")
        case .noop:
            // In a selected folder NOOP also reports what changed (RFC 3501 6.1.2).
            if case .authenticated(let user) = state, selection != nil {
                return handleAuthenticated(command, user: user)
            }
            tagged(tag, "OK NOOP completed")
        case .logout:
            emit(.send("* BYE \(configuration.hostname) logging out\r\n"))
            tagged(tag, "OK LOGOUT completed")
            state = .closed
            emit(.close)
        case .startTLS:
            guard state == .notAuthenticated else { return fail(tag, "BAD Already logged in") }
            guard configuration.tlsAvailable, !tlsActive else {
                return fail(tag, tlsActive ? "BAD TLS is already active" : "NO STARTTLS is not available here")
            }
            tagged(tag, "OK Begin TLS negotiation now")
            // Nothing sent in plaintext after STARTTLS may be read as if it came inside TLS.
            input.clear()
            framer.reset()
            tlsStarting = true
            emit(.startTLS)
        case .login(let user, let password):
            guard state == .notAuthenticated else { return fail(tag, "BAD Already logged in") }
            guard tlsActive else { return fail(tag, Self.plaintextRefusal) }
            verify(Credentials(mechanism: "LOGIN", username: user, password: password), tag: tag)
        case .authenticate(let mechanism, let initialResponse):
            guard state == .notAuthenticated else { return fail(tag, "BAD Already logged in") }
            guard tlsActive else { return fail(tag, Self.plaintextRefusal) }
            guard mechanism == "PLAIN" else { return fail(tag, "NO Unsupported mechanism; PLAIN is offered") }
            if let initialResponse {
                saslCredentials(Array((initialResponse == "=" ? "" : initialResponse).utf8), tag: tag)
            } else {
                state = .saslResponse(tag: tag)
                emit(.send("+ \r\n"))
            }
        default:
            guard case .authenticated(let user) = state else { return fail(tag, "BAD Log in first") }
            handleAuthenticated(command, user: user)
        }
    }

    /// ID fields for a log line: printable ASCII only, each value cut to 64 octets.
    static func describe(_ fields: [IMAPCommand.IDField]) -> String {
        func clean(_ text: String) -> String {
            String(
                String.UnicodeScalarView(text.unicodeScalars.prefix(64).map { $0.isASCII && $0.value >= 32 ? $0 : "?" })
            )
        }
        return fields.map { "\(clean($0.name))=\($0.value.map(clean) ?? "NIL")" }.joined(separator: " ")
    }

    static let plaintextRefusal = "NO [PRIVACYREQUIRED] Logins need TLS: send STARTTLS first, or use port 993"

    mutating func saslResponse(_ line: [UInt8], tag: String) {
        state = .notAuthenticated
        if line == [UInt8(ascii: "*")] { return fail(tag, "BAD AUTHENTICATE cancelled") }
        saslCredentials(line, tag: tag)
    }

    private mutating func saslCredentials(_ response: [UInt8], tag: String) {
        guard let credentials = SASLPlain.credentials(fromBase64: response) else {
            return fail(tag, "BAD Invalid PLAIN response")
        }
        verify(credentials, tag: tag)
    }

    private mutating func verify(_ credentials: Credentials, tag: String) {
        state = .verifying(tag: tag, user: credentials.username, mechanism: credentials.mechanism)
        emit(.verifyCredentials(credentials))
    }

    // MARK: Output

    mutating func emit(_ action: Action) {
        pending.append(action)
    }

    mutating func tagged(_ tag: String, _ text: String) {
        emit(.send("\(tag) \(text)\r\n"))
    }

    /// A refused command (tagged NO or BAD; untagged BAD without a tag): counts towards the error limit.
    mutating func fail(_ tag: String?, _ text: String) {
        errorCount += 1
        if errorCount >= configuration.maxErrors {
            emit(.log(.protocolError("too many errors")))
            bye("Too many errors, closing")
        } else {
            emit(.send("\(tag ?? "*") \(text)\r\n"))
        }
    }

    mutating func bye(_ text: String) {
        emit(.send("* BYE \(text)\r\n"))
        state = .closed
        emit(.close)
    }
}
