import MailModel
import NIOCore
import ProtocolSupport

import struct Foundation.Date

/// The server side of one SMTP connection (RFC 5321), as a pure state machine.
///
/// It owns no socket, file or clock. The driver feeds it what happened (`receive`, `messageCommitted`,
/// `tlsEstablished`, `authenticationFinished`, `timeoutFired`, ...) and then pulls `Action`s with `next()`
/// until it returns nil, carrying each one out. Input is framed here, so the same bytes give the same replies
/// whether they arrive in one read or a thousand; pipelined commands (RFC 2920) are answered in order, and
/// while the session waits on the driver (a spool commit, a password check) further input stays buffered.
public struct SMTPServerSession {
    /// What the driver must do.
    public enum Action: Sendable {
        /// Send this reply.
        case send(SMTPReply)
        /// DATA was accepted: start a message (a spool file) and write our Received header to it.
        case startMessage(MessageStart)
        /// Append unstuffed content to the current message.
        case appendBody(ByteBuffer)
        /// The content is complete and acceptable: make it durable, then call `messageCommitted` or
        /// `messageCommitFailed`. Nothing is said to the client until then.
        case commitMessage(AcceptedMessage)
        /// Drop the current message and whatever of it was written.
        case abortMessage
        /// The 220 reply to STARTTLS has been sent: start the TLS handshake now, then call `tlsEstablished`.
        case startTLS
        /// Check these credentials, then call `authenticationFinished`.
        case verifyCredentials(Credentials)
        /// Something worth a log line.
        case log(SessionEvent)
        /// Close the connection once the replies before it are written.
        case close
    }

    /// What the driver should be timing, and whether it should read.
    public enum Phase: Equatable, Sendable {
        /// Waiting for a command or a SASL response line.
        case command
        /// Reading message content.
        case data
        /// Waiting for the driver (commit, credential check, TLS handshake): no timeout of ours applies,
        /// and no more input is needed.
        case waitingForDriver
        case closed
    }

    public let configuration: SMTPServerConfiguration
    let client: SMTPClientConnection
    let environment: SMTPSessionEnvironment

    var state: State = .connected
    var hello: Hello?
    var tls: TLSState
    /// STARTTLS was answered 220 and the handshake has not finished: input is discarded.
    var awaitingTLSAfterSTARTTLS = false
    var discardedBeforeTLS = false
    var authenticatedUser: String?
    var errorCount = 0
    var shutdownRequested = false

    var input = ByteBuffer()
    /// The wall-clock time of the latest input: it dates our Received header and the message's arrival.
    var now = Date(timeIntervalSince1970: 0)
    /// Octets of the Received header that `startMessage` gave the driver: the first part of the content.
    var receivedHeaderOctets = 0
    var framer: CRLFLineFramer
    var pending = CircularBuffer<Action>(initialCapacity: 4)

    public init(
        configuration: SMTPServerConfiguration, client: SMTPClientConnection, environment: SMTPSessionEnvironment
    ) {
        self.configuration = configuration
        self.client = client
        self.environment = environment
        self.framer = CRLFLineFramer(maxLineLength: configuration.maxCommandLineLength)
        self.tls = client.implicitTLS ? .negotiating : .none
    }

    // MARK: Events from the driver

    /// The connection is up: greet.
    public mutating func start() {
        guard case .connected = state else { preconditionFailure("start() called twice") }
        state = .awaitingHello
        emit(.send(.greeting(configuration.hostname)))
    }

    /// Why a connection is turned away at once.
    public enum Refusal: Sendable {
        case tooManyConnections
        case tooManyFromClient
    }

    /// The connection is over a limit: say so (421) and close without serving it.
    public mutating func refuse(_ refusal: Refusal) {
        close(with: refusal == .tooManyConnections ? .tooManyConnections : .tooManyConnectionsFromClient)
    }

    /// Bytes from the client. Between STARTTLS and the end of the handshake nothing is taken: any byte
    /// that arrives then was sent in plaintext, and must never be read as if it came inside TLS (RFC 3207 5,
    /// CVE-2011-0411), however long the driver takes to put TLS in place. `now` is when the bytes arrived, by
    /// the wall clock.
    public mutating func receive(_ bytes: ByteBuffer, at now: Date) {
        guard state.acceptsInput else { return }
        self.now = now
        if awaitingTLSAfterSTARTTLS {
            if !discardedBeforeTLS {
                discardedBeforeTLS = true
                emit(.log(.protocolViolation("octets sent after STARTTLS before the TLS handshake discarded")))
            }
            return
        }
        if input.readableBytes == 0 {
            input = bytes
        } else {
            var bytes = bytes
            input.writeBuffer(&bytes)
        }
    }

    /// The TLS handshake finished (after STARTTLS, or at once on an implicit-TLS port).
    public mutating func tlsEstablished(version: String?) {
        tls = .established(version: version ?? "TLS")
        awaitingTLSAfterSTARTTLS = false
    }

    /// The peer closed its side. A message being received is dropped; it was never acknowledged.
    public mutating func inputClosed() {
        if case .receivingData = state { emit(.abortMessage) }
        if case .awaitingCommit = state {
            // The commit goes on: the message may become durable and will be delivered; only our reply is lost,
            // and the client will retry (a duplicate is the price of never losing mail).
            return
        }
        state = .closed
    }

    /// The driver's idle timer for the current phase ran out. While the session waits for the driver no
    /// timeout of ours applies, so one that fires then is ignored.
    public mutating func timeoutFired() {
        guard phase == .command || phase == .data else { return }
        if state.isReceivingData { emit(.abortMessage) }
        emit(.log(.timeout(phase: state.isReceivingData ? "DATA" : "command")))
        close(with: .timeout)
    }

    /// The server is stopping: close at once if idle (or in the middle of AUTH), otherwise as soon as the
    /// transaction in progress ends — with its 250, a 451, an RSET, whatever returns the session to idle.
    /// `next()` checks this before it takes each command.
    public mutating func shutdownStarted() {
        shutdownRequested = true
    }

    /// The stop's grace ran out and this session is still busy: a message being received is dropped (it was
    /// never acknowledged, so the client still holds it and will try again) and the client is told 421
    /// (RFC 5321 3.8). A commit or password check under way is left to finish; its reply then closes the
    /// session, since a stop was asked for.
    public mutating func shutdownGraceExpired() {
        guard phase == .command || phase == .data else { return }
        if state.isReceivingData { emit(.abortMessage) }
        close(with: .shuttingDown)
    }

    // MARK: Pulling actions

    public var phase: Phase {
        switch state {
        case .connected, .awaitingHello, .ready, .mailTransaction, .saslResponse: .command
        case .receivingData: .data
        case .awaitingCommit, .verifyingCredentials: .waitingForDriver
        case .closed: .closed
        }
    }

    /// The next thing to do, or nil when the session needs more input or is waiting for the driver.
    public mutating func next() -> Action? {
        while true {
            if let action = pending.popFirst() { return action }
            switch state {
            case .connected, .awaitingCommit, .verifyingCredentials, .closed:
                return nil
            case .receivingData:
                if !readContent() { return pending.popFirst() }
            case .awaitingHello, .ready, .mailTransaction, .saslResponse:
                if shutdownRequested && state.isIdle {
                    close(with: .shuttingDown)
                    continue
                }
                framer.maxLineLength =
                    state.isSASL ? configuration.maxSASLLineLength : configuration.maxCommandLineLength
                guard let frame = framer.next(from: &input) else { return nil }
                switch frame {
                case .tooLong:
                    // An overlong SASL response ends the exchange too (RFC 4954 4): the next line is a command.
                    if state.isSASL { state = .ready }
                    fail(.lineTooLong)
                case .line(let line):
                    lineReceived(line)
                }
            }
        }
    }

    // MARK: Internals shared by the extensions

    mutating func emit(_ action: Action) {
        pending.append(action)
    }

    /// Sends a failure reply and counts it; too many in a row end the session.
    mutating func fail(_ reply: SMTPReply, command: String? = nil, recipient: String? = nil) {
        emit(.send(reply))
        emit(
            .log(
                .refused(
                    command: command, reply: reply, queueID: state.transaction?.queueID,
                    sender: state.transaction?.sender, recipient: recipient)))
        guard reply.isPermanentFailure else { return }
        errorCount += 1
        if errorCount >= configuration.maxErrors { close(with: .tooManyErrors) }
    }

    mutating func close(with reply: SMTPReply) {
        emit(.send(reply))
        emit(.close)
        state = .closed
        input.clear()
    }

    private mutating func lineReceived(_ line: [UInt8]) {
        if case .saslResponse(let exchange) = state {
            saslResponseReceived(line, exchange: exchange)
            return
        }
        let command: SMTPCommand
        do {
            command = try SMTPCommandParser.parse(line, addressLimits: configuration.addressLimits)
        } catch {
            commandRefused(error)
            return
        }
        handle(command)
    }

    private mutating func commandRefused(_ error: SMTPCommandError) {
        switch error {
        case .unknownCommand: fail(.unknownCommand)
        case .notImplemented(let verb): fail(.notImplemented(verb), command: verb)
        case .syntax(let text): fail(.syntax(text))
        case .badAddress(let reason, let isSender):
            fail(isSender ? .badSender(reason) : .badRecipient(reason), command: isSender ? "MAIL" : "RCPT")
        case .badCharacters: fail(.badCharacters)
        case .nonSMTP(let verb):
            emit(.log(.protocolViolation("non-SMTP command \(verb)")))
            close(with: .nonSMTP)
        }
    }
}

/// The connection facts a session starts with.
public struct SMTPClientConnection: Sendable {
    public var address: IPAddress?
    public var port: Int?
    /// True on the implicit-TLS port (465, RFC 8314).
    public var implicitTLS: Bool

    public init(address: IPAddress?, port: Int?, implicitTLS: Bool) {
        self.address = address
        self.port = port
        self.implicitTLS = implicitTLS
    }
}

/// What a session may ask of the world without doing I/O itself.
public struct SMTPSessionEnvironment: Sendable {
    public var policy: any RecipientPolicy
    /// Whether the spool has room for a message of this declared size (nil when undeclared).
    public var spoolHasRoom: @Sendable (_ declaredSize: Int?) -> Bool
    public var makeQueueID: @Sendable () -> QueueID
    /// Whether an authenticated user may use this envelope sender (the users file's `send_as`).
    public var userMaySend: @Sendable (_ user: String, _ sender: EmailAddress) -> Bool

    public init(
        policy: any RecipientPolicy, spoolHasRoom: @escaping @Sendable (Int?) -> Bool,
        makeQueueID: @escaping @Sendable () -> QueueID,
        userMaySend: @escaping @Sendable (String, EmailAddress) -> Bool = { _, _ in true }
    ) {
        self.policy = policy
        self.spoolHasRoom = spoolHasRoom
        self.makeQueueID = makeQueueID
        self.userMaySend = userMaySend
    }
}
