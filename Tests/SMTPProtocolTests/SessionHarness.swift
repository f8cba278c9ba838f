import MailModel
import NIOCore
import ProtocolSupport
import Routing
import SMTPProtocol
import Synchronization

import struct Foundation.Date

/// Drives an `SMTPServerSession` the way the NIO driver does, with an in-memory spool, a credential check
/// that knows one user (alice / secret) and TLS that succeeds at once.
struct SessionHarness {
    var session: SMTPServerSession
    var replies: [SMTPReply] = []
    var closed = false
    var startedTLS = false
    /// Leave the TLS handshake unfinished after STARTTLS until the test calls `tlsEstablished` itself.
    var holdTLS = false
    var events: [SessionEvent] = []
    var committed: [(AcceptedMessage, [UInt8])] = []
    var currentBody: [UInt8]?
    var credentialsSeen: [Credentials] = []
    var authResult: AuthenticationResult = .accepted
    var commitSucceeds = true
    /// When set, commits are left for the test to finish (the session stays in `.waitingForDriver`).
    var holdCommits = false
    /// The wall-clock time the harness gives each read.
    var now = Date(timeIntervalSince1970: 1_790_000_000)

    static let client = SMTPClientConnection(address: IPAddress("127.0.0.1"), port: 40000, implicitTLS: false)

    init(
        configuration: SMTPServerConfiguration = SMTPServerConfiguration(hostname: "mx.test"),
        client: SMTPClientConnection = SessionHarness.client,
        policy: any RecipientPolicy = RelayNetworksPolicy(),
        spoolHasRoom: @escaping @Sendable (Int?) -> Bool = { _ in true },
        userMaySend: @escaping @Sendable (String, EmailAddress) -> Bool = { _, _ in true }
    ) {
        let counter = Counter()
        let environment = SMTPSessionEnvironment(
            policy: policy, spoolHasRoom: spoolHasRoom,
            makeQueueID: {
                var generator = FixedGenerator()
                return QueueID.make(microsecondsSince1970: counter.next(), using: &generator)
            }, userMaySend: userMaySend)
        session = SMTPServerSession(configuration: configuration, client: client, environment: environment)
        if client.implicitTLS { session.tlsEstablished(version: "TLSv1.3") }
        session.start()
        drain()
    }

    /// Feeds bytes in one read, or one byte per read.
    mutating func feed(_ bytes: [UInt8], byteByByte: Bool = false) {
        if byteByByte {
            for byte in bytes {
                session.receive(ByteBuffer(bytes: [byte]), at: now)
                drain()
            }
        } else {
            session.receive(ByteBuffer(bytes: bytes), at: now)
            drain()
        }
    }

    mutating func feed(_ text: String) { feed(Array(text.utf8)) }

    mutating func drain() {
        while let action = session.next() {
            switch action {
            case .send(let reply): replies.append(reply)
            case .close: closed = true
            case .startMessage(let start):
                currentBody = Array(start.receivedHeader.utf8)
            case .appendBody(let chunk): currentBody?.append(contentsOf: chunk.readableBytesView)
            case .abortMessage: currentBody = nil
            case .commitMessage(let message):
                if holdCommits {
                    committed.append((message, currentBody ?? []))
                } else if commitSucceeds {
                    committed.append((message, currentBody ?? []))
                    session.messageCommitted(queueID: message.queueID)
                } else {
                    session.messageCommitFailed()
                }
                currentBody = nil
            case .startTLS:
                startedTLS = true
                if !holdTLS { session.tlsEstablished(version: "TLSv1.3") }
            case .verifyCredentials(let credentials):
                credentialsSeen.append(credentials)
                session.authenticationFinished(
                    authResult == .accepted && !(credentials.username == "alice" && credentials.password == "secret")
                        ? .rejected : authResult)
            case .log(let event): events.append(event)
            }
        }
    }

    /// The content of the last committed message, without our Received header.
    var lastContent: [UInt8]? {
        guard let (message, body) = committed.last else { return nil }
        let headerLength = body.count - message.contentSize
        return Array(body[headerLength...])
    }

    var lastCodes: [Int] { replies.map(\.code) }

    mutating func takeReplies() -> [SMTPReply] {
        defer { replies.removeAll() }
        return replies
    }
}

final class Counter: Sendable {
    private let value = Mutex<UInt64>(1_700_000_000_000_000)
    func next() -> UInt64 {
        value.withLock {
            $0 += 1
            return $0
        }
    }
}

struct FixedGenerator: RandomNumberGenerator {
    mutating func next() -> UInt64 { 7 }
}
