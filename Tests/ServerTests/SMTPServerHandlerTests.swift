import Logging
import MailModel
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS
import Foundation
import Routing
import SMTPProtocol
import Testing

@testable import Server

/// The NIO driver on an `EmbeddedChannel`: what reaches the wire, and when, with a store whose commits the
/// test completes by hand and a virtual clock for timeouts.
@Suite struct SMTPServerHandlerTests {
    struct Connection {
        let channel: EmbeddedChannel
        let store: ControlledStore
        let limiter: ConnectionLimiter

        func send(_ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }

        /// Everything written so far, as text.
        func written() throws -> String {
            var text = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
            return text
        }
    }

    func connect(
        limits: SessionWatchdog.Limits = .init(),
        limiter: ConnectionLimiter = .init(maxConnections: 10, maxPerClient: 10), tlsContext: NIOSSLContext? = nil
    ) throws -> Connection {
        let store = ControlledStore()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let service = SMTPServiceContext(
            configuration: SMTPServerConfiguration(hostname: "mx.test"), watchdogLimits: limits,
            policy: RelayNetworksPolicy(), store: store, authenticator: nil, tlsContext: tlsContext,
            connectionLimiter: limiter, logger: logger)
        let channel = EmbeddedChannel()
        let remote = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        try channel.pipeline.syncOperations.addHandler(
            SMTPServerHandler(service: service, remoteAddress: remote, implicitTLS: false))
        try channel.connect(to: remote).wait()
        return Connection(channel: channel, store: store, limiter: limiter)
    }

    func sendMessage(_ connection: Connection) throws {
        try connection.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        _ = try connection.written()
        try connection.send("Subject: x\r\n\r\nbody\r\n.\r\n")
    }

    @Test func noReplyBeforeTheMessageIsDurable() throws {
        let connection = try connect()
        try sendMessage(connection)
        #expect(try connection.written() == "", "nothing may be said before the commit completes")
        let (envelope, promise) = try #require(connection.store.pendingCommits.first)
        #expect(envelope.recipients.map(\.address.description) == ["b@example.net"])
        #expect(String(buffer: connection.store.contents[0]).hasSuffix("Subject: x\r\n\r\nbody\r\n"))
        promise.succeed()
        #expect(try connection.written() == "250 2.0.0 Ok: queued as \(envelope.queueID)\r\n")
    }

    @Test func failedCommitIsA451AndTheSessionGoesOn() throws {
        let connection = try connect()
        try sendMessage(connection)
        connection.store.pendingCommits[0].promise.fail(ControlledStore.Failure())
        #expect(try connection.written() == "451 4.3.0 Requested action aborted: local error in processing\r\n")
        try connection.send("NOOP\r\n")
        #expect(try connection.written() == "250 2.0.0 Ok\r\n")
    }

    @Test func pipelinedCommandsWaitForTheCommit() throws {
        let connection = try connect()
        try connection.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        _ = try connection.written()
        try connection.send("x\r\n.\r\nNOOP\r\nQUIT\r\n")
        #expect(try connection.written() == "")
        connection.store.pendingCommits[0].promise.succeed()
        let text = try connection.written()
        #expect(text.hasPrefix("250 2.0.0 Ok: queued as"))
        #expect(text.hasSuffix("250 2.0.0 Ok\r\n221 2.0.0 mx.test closing connection\r\n"))
    }

    @Test func idleTimeoutUsesTheEventLoopClock() throws {
        var limits = SessionWatchdog.Limits()
        limits.commandTimeout = .seconds(60)
        let connection = try connect(limits: limits)
        _ = try connection.written()
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(50))
        #expect(try connection.written() == "")
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        #expect(try connection.written() == "421 4.4.2 Timeout exceeded, closing connection\r\n")
    }

    @Test func aCommandTrickledByteByByteTimesOut() throws {
        var limits = SessionWatchdog.Limits()
        limits.commandTimeout = .seconds(60)
        let connection = try connect(limits: limits)
        _ = try connection.written()
        for byte in "NOOP".utf8 {
            try connection.channel.writeInbound(ByteBuffer(bytes: [byte]))
            connection.channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        }
        #expect(try connection.written() == "421 4.4.2 Timeout exceeded, closing connection\r\n")
    }

    /// The 220 to STARTTLS is held back (the client does not read), so TLS is put in place late; plaintext
    /// the client sends meanwhile is never taken as a command once TLS is up (CVE-2011-0411).
    @Test func plaintextSentWhileTheSTARTTLSReplyIsHeldBackIsNeverACommand() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-tls-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tls = try TLSIdentity.selfSigned(in: directory, hostname: "mx.test").makeServerContext()
        let connection = try connect(tlsContext: tls)
        try connection.send("EHLO c\r\n")
        _ = try connection.written()
        // Writing the 220 fills the send buffer, so TLS waits until the client reads it.
        try connection.channel.pipeline.syncOperations.addHandler(WriteFillsTheBuffer(after: "220 "), position: .first)
        try connection.send("STARTTLS\r\n")
        #expect(try connection.written() == "220 2.0.0 Ready to start TLS\r\n")
        #expect((try? connection.channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)) == nil)
        try connection.send("MAIL FROM:<evil@example.org>\r\n")
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        // TLS is in front now. Take it out again and say the handshake is done, so that whatever the session
        // answers next reaches us as plain text: it must be nothing. (The recorder sits behind TLS and sees
        // every reply before it would be encrypted, too.)
        let recorder = try connection.channel.pipeline.syncOperations.handler(type: WriteFillsTheBuffer.self)
        let sslHandler = try connection.channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        try connection.channel.pipeline.syncOperations.removeHandler(sslHandler).wait()
        _ = try connection.written()
        connection.channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        #expect(try connection.written() == "", "the MAIL sent in plaintext was not answered")
        #expect(recorder.writes == ["220 2.0.0 Ready to start TLS\r\n"], "no reply but the 220: \(recorder.writes)")
        try connection.send("EHLO c\r\n")
        #expect(try connection.written().hasPrefix("250-mx.test"))
        _ = try? connection.channel.finish(acceptAlreadyClosed: true)
    }

    @Test func unreadRepliesStopTheSession() throws {
        let connection = try connect()
        _ = try connection.written()
        connection.channel.isWritable = false
        connection.channel.pipeline.fireChannelWritabilityChanged()
        try connection.send(String(repeating: "NOOP\r\n", count: 1000))
        #expect(try connection.written() == "", "no command is answered while the client is not reading")
        connection.channel.isWritable = true
        connection.channel.pipeline.fireChannelWritabilityChanged()
        #expect(try connection.written() == String(repeating: "250 2.0.0 Ok\r\n", count: 1000))
    }

    @Test func aClientThatNeverReadsIsClosedAtTheTimeout() throws {
        var limits = SessionWatchdog.Limits()
        limits.commandTimeout = .seconds(60)
        let connection = try connect(limits: limits)
        try connection.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        connection.channel.isWritable = false
        connection.channel.pipeline.fireChannelWritabilityChanged()
        try connection.send("partial content\r\n")
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(20 * 60))
        #expect(!connection.channel.isActive)
        #expect(connection.store.discarded == 1, "the message in progress is dropped, never committed")
    }

    @Test func abortedDataDiscardsTheMessage() throws {
        let connection = try connect()
        try connection.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        try connection.send("partial content\r\n")
        _ = connection.channel.close()
        #expect(connection.store.discarded == 1)
        #expect(connection.store.pendingCommits.isEmpty)
    }

    @Test func connectionsAreCountedAndReleased() throws {
        let limiter = ConnectionLimiter(maxConnections: 1, maxPerClient: 1)
        let first = try connect(limiter: limiter)
        #expect(limiter.openConnections == 1)
        let second = try connect(limiter: limiter)
        #expect(try second.written().hasPrefix("421 4.7.0 Too many connections"))
        #expect(limiter.openConnections == 1)
        _ = first.channel.close()
        #expect(limiter.openConnections == 0)
    }
}

/// A message store that keeps content in memory and leaves commits for the test to complete.
final class ControlledStore: MessageStore, @unchecked Sendable {
    // @unchecked: used only from the EmbeddedChannel's thread, the test's own.
    struct Failure: Error {}
    var pendingCommits: [(envelope: Envelope, promise: EventLoopPromise<Void>)] = []
    var contents: [ByteBuffer] = []
    var discarded = 0

    func hasRoom(forDeclaredSize size: Int?) -> Bool { true }

    func begin(_ queueID: QueueID, on eventLoop: any EventLoop) -> any IncomingMessage {
        contents.append(ByteBuffer())
        return Message(store: self, index: contents.count - 1, eventLoop: eventLoop)
    }

    final class Message: IncomingMessage {
        let store: ControlledStore
        let index: Int
        let eventLoop: any EventLoop
        var onDrained: (() -> Void)?
        var needsBackpressure: Bool { false }

        init(store: ControlledStore, index: Int, eventLoop: any EventLoop) {
            self.store = store
            self.index = index
            self.eventLoop = eventLoop
        }

        func append(_ chunk: ByteBuffer) {
            var chunk = chunk
            store.contents[index].writeBuffer(&chunk)
        }

        func commit(_ envelope: Envelope) -> EventLoopFuture<Void> {
            let promise = eventLoop.makePromise(of: Void.self)
            store.pendingCommits.append((envelope, promise))
            return promise.futureResult
        }

        func discard() { store.discarded += 1 }
    }
}

/// Marks the channel unwritable once a write starting with `prefix` passes, as a full send buffer would.
/// Also records every write it passes.
final class WriteFillsTheBuffer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    let prefix: String
    private(set) var writes: [String] = []
    init(after prefix: String) { self.prefix = prefix }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let text = String(buffer: unwrapOutboundIn(data))
        writes.append(text)
        context.write(data, promise: promise)
        guard text.hasPrefix(prefix), let channel = context.channel as? EmbeddedChannel else { return }
        channel.isWritable = false
        context.fireChannelWritabilityChanged()
    }
}
