import NIOCore
import ProtocolSupport

/// The server side of one POP3 connection (RFC 1939, with CAPA and response codes from RFC 2449, STLS from
/// RFC 2595 and SASL PLAIN from RFC 5034), as a pure state machine.
///
/// Like `SMTPServerSession` it owns no socket, file or clock: the driver feeds it events (`receive`,
/// `tlsEstablished`, `authenticationFinished`, `maildropOpened`, `messageSent`, `updateFinished`,
/// `timeoutFired`, `inputClosed`) and pulls `Action`s with `next()`. Commands are answered in order; while
/// the session waits on the driver, further input stays buffered (RFC 2449 PIPELINING).
///
/// Passwords travel only inside TLS: USER, PASS and AUTH are refused on a plain connection until STLS.
/// Deletions happen only in the UPDATE state that QUIT starts: a dropped connection deletes nothing.
public struct POP3Session: Sendable {
    public struct Configuration: Sendable {
        public var hostname: String
        /// STLS can be offered (a certificate is set up).
        public var tlsAvailable: Bool
        /// The longest command line, CRLF included. RFC 2449 4 allows 255; AUTH PLAIN with its initial
        /// response may need more, so the default is a little larger.
        public var maxCommandLength = 1024
        /// Unknown or refused commands before the connection is closed.
        public var maxErrors = 10

        public init(hostname: String, tlsAvailable: Bool) {
            self.hostname = hostname
            self.tlsAvailable = tlsAvailable
        }
    }

    /// What the driver must do.
    public enum Action: Equatable, Sendable {
        /// Write these lines (already CRLF-terminated).
        case send(String)
        /// The +OK to STLS is written: start TLS on the connection, then call `tlsEstablished`.
        case startTLS
        /// Check the credentials, then call `authenticationFinished`.
        case verifyCredentials(Credentials)
        /// The user logged in: lock and list their maildrop, then call `maildropOpened`.
        case openMaildrop(user: String)
        /// Write `status` (a +OK line), then the message's content (the whole message, or its header and the
        /// first `bodyLines` lines of its body), with CRLF line ends, dot-stuffed, and the final `.` line;
        /// then call `messageSent`. If the message cannot be read, write nothing and call `messageSent(false)`.
        case sendMessage(index: Int, bodyLines: Int?, status: String)
        /// QUIT in the transaction state: remove these messages (indexes into the maildrop), then call
        /// `updateFinished`.
        case removeMessages([Int])
        /// Close once everything before it is written; the driver also gives up the maildrop's lock.
        case close
        case log(Event)
    }

    public enum Event: Equatable, Sendable {
        case authenticated(user: String, mechanism: String)
        case authenticationFailed(user: String, result: AuthenticationResult)
        case protocolError(String)
        case timeout
    }

    /// What the driver should time, and whether to read.
    public enum Phase: Equatable, Sendable {
        case command
        /// Waiting for the driver: no input is needed.
        case waitingForDriver
        case closed
    }

    /// One message in the maildrop, as the driver listed it.
    public struct MaildropEntry: Equatable, Sendable {
        /// Octets as RETR sends them (CRLF line ends, before dot-stuffing).
        public var size: Int
        /// Stable across sessions (RFC 1939 7: 1 to 70 characters 0x21 to 0x7E).
        public var uniqueID: String

        public init(size: Int, uniqueID: String) {
            self.size = size
            self.uniqueID = uniqueID
        }
    }

    public enum MaildropFailure: Error, Equatable, Sendable {
        /// Another POP3 session has it (RFC 2449 8.1.1 [IN-USE]).
        case inUse
        /// This user has no mailbox to read.
        case noMailbox
        /// It could not be read; the text is for the log, not the client.
        case unavailable(String)
    }

    enum State: Equatable {
        case connected
        case authorization(user: String?)
        case saslResponse
        case verifyingCredentials(user: String, mechanism: String)
        case openingMaildrop(user: String)
        case transaction
        case sendingMessage
        case update
        case closed
    }

    public let configuration: Configuration
    var state: State = .connected
    var tlsActive: Bool
    var tlsStarting = false
    var user: String?
    var maildrop: [MaildropEntry] = []
    var deleted: Set<Int> = []
    var errorCount = 0
    var shutdownRequested = false
    /// Whole command lines taken so far (SASL responses included): the driver's idle clock restarts only
    /// when this moves, so trickling octets do not keep a connection alive.
    public private(set) var commandsTaken = 0
    var input = ByteBuffer()
    var framer: CRLFLineFramer
    var pending = CircularBuffer<Action>(initialCapacity: 4)

    public init(configuration: Configuration, implicitTLS: Bool) {
        self.configuration = configuration
        self.tlsActive = implicitTLS
        self.framer = CRLFLineFramer(maxLineLength: configuration.maxCommandLength)
    }

    // MARK: Events from the driver

    public mutating func start() {
        guard state == .connected else { preconditionFailure("start() called twice") }
        state = .authorization(user: nil)
        send(ok: "\(configuration.hostname) Relaygate POP3 ready")
    }

    public mutating func receive(_ bytes: ByteBuffer) {
        // Plaintext arriving before the handshake ends is not to be trusted (RFC 2595 4).
        guard state != .closed, !tlsStarting else { return }
        var bytes = bytes
        input.writeBuffer(&bytes)
        processInput()
    }

    public mutating func tlsEstablished() {
        tlsStarting = false
        tlsActive = true
        processInput()
    }

    public mutating func authenticationFinished(_ result: AuthenticationResult) {
        guard case .verifyingCredentials(let user, let mechanism) = state else { return }
        switch result {
        case .accepted:
            emit(.log(.authenticated(user: user, mechanism: mechanism)))
            state = .openingMaildrop(user: user)
            emit(.openMaildrop(user: user))
        case .rejected:
            emit(.log(.authenticationFailed(user: user, result: result)))
            state = .authorization(user: nil)
            fail("[AUTH] Invalid user name or password")
        case .temporaryFailure:
            emit(.log(.authenticationFailed(user: user, result: result)))
            state = .authorization(user: nil)
            send(err: "[SYS/TEMP] Cannot check passwords right now; try again later")
        }
        processInput()
    }

    public mutating func maildropOpened(_ result: Result<[MaildropEntry], MaildropFailure>) {
        guard case .openingMaildrop(let user) = state else { return }
        switch result {
        case .success(let entries):
            self.user = user
            maildrop = entries
            state = .transaction
            send(ok: "Logged in, \(entries.count) message\(entries.count == 1 ? "" : "s") (\(octets) octets)")
        case .failure(.inUse):
            state = .authorization(user: nil)
            send(err: "[IN-USE] Your mailbox is open in another POP3 session; close it and try again")
        case .failure(.noMailbox):
            state = .authorization(user: nil)
            send(err: "[SYS/PERM] There is no mailbox for this user; ask the operator to set one")
        case .failure(.unavailable(let reason)):
            emit(.log(.protocolError("maildrop unavailable: \(reason)")))
            state = .authorization(user: nil)
            send(err: "[SYS/TEMP] Your mailbox cannot be read right now; try again later")
        }
        processInput()
    }

    /// The driver finished a `sendMessage`; false if it could not read the message and sent nothing.
    public mutating func messageSent(_ sent: Bool = true) {
        guard state == .sendingMessage else { return }
        state = .transaction
        if !sent { send(err: "[SYS/TEMP] That message is no longer there (removed by another program)") }
        processInput()
    }

    /// The driver finished `removeMessages`.
    public mutating func updateFinished(removed: Bool) {
        guard state == .update else { return }
        let left = maildrop.count - deleted.count
        if removed {
            send(ok: "\(configuration.hostname) signing off (\(left) message\(left == 1 ? "" : "s") left)")
        } else {
            send(err: "[SYS/TEMP] Some deleted messages could not be removed; they are still there")
        }
        state = .closed
        emit(.close)
    }

    /// The idle timer ran out (RFC 1939 3: no UPDATE, nothing is deleted).
    public mutating func timeoutFired() {
        guard state != .closed, state != .update else { return }
        emit(.log(.timeout))
        close(withError: "Idle too long, closing")
    }

    /// The server is stopping: like a timeout, nothing is deleted. A session in the middle of something
    /// (a message being sent, a login being checked, QUIT's deletions) finishes it first.
    public mutating func shutdownStarted() {
        shutdownRequested = true
        processInput()
    }

    public mutating func inputClosed() {
        state = .closed
    }

    public mutating func next() -> Action? {
        pending.popFirst()
    }

    /// True once the user has logged in (the maildrop is open or being opened).
    public var isAuthenticated: Bool {
        switch state {
        case .openingMaildrop, .transaction, .sendingMessage, .update: true
        case .connected, .authorization, .saslResponse, .verifyingCredentials, .closed: false
        }
    }

    public var phase: Phase {
        switch state {
        case .closed: .closed
        case .connected, .verifyingCredentials, .openingMaildrop, .sendingMessage, .update: .waitingForDriver
        // During the TLS handshake the driver must keep reading: the handshake comes that way.
        case .authorization, .saslResponse, .transaction: .command
        }
    }

    // MARK: Input

    mutating func processInput() {
        if shutdownRequested && phase == .command {
            return close(withError: "[SYS/TEMP] Server shutting down; reconnect later")
        }
        while phase == .command, !tlsStarting, let frame = framer.next(from: &input) {
            switch frame {
            case .tooLong:
                fail("Line too long")
            case .line(let line):
                commandsTaken += 1
                if state == .saslResponse {
                    saslResponse(line)
                } else {
                    handle(line)
                }
            }
        }
    }

    // MARK: Output

    var octets: Int {
        maildrop.indices.reduce(0) { deleted.contains($1) ? $0 : $0 + maildrop[$1].size }
    }

    mutating func emit(_ action: Action) {
        pending.append(action)
    }

    mutating func send(ok text: String) {
        emit(.send("+OK \(text)\r\n"))
    }

    mutating func send(err text: String) {
        emit(.send("-ERR \(text)\r\n"))
    }

    /// A refused command: counts towards the error limit.
    mutating func fail(_ text: String) {
        errorCount += 1
        if errorCount >= configuration.maxErrors {
            emit(.log(.protocolError("too many errors")))
            close(withError: "Too many errors, closing")
        } else {
            send(err: text)
        }
    }

    mutating func close(withError text: String) {
        send(err: text)
        state = .closed
        emit(.close)
    }
}
