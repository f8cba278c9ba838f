import Logging
import MailModel
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ProtocolSupport
import SMTPProtocol
import Spool

/// The NIO driver of one outbound SMTP connection: feeds `SMTPClientSession` the server's replies and
/// carries out its actions — writes, the TLS upgrade, streaming the stored content — and reports the
/// message's results when the connection ends. No protocol decision is made here.
final class SMTPClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Outcome {
        /// One entry per message the connection finished, in the order they were given.
        var finished: [[SMTPClientSession.RecipientResult]] = []
        var results: [SMTPClientSession.RecipientResult]? { finished.first }
        var connectionFailure: SMTPClientSession.Failure?
        var tls: Bool
        /// The server offered DSN (RFC 3461): it was given NOTIFY and reports successes itself.
        var peerOffersDSN = false
        /// The TLS version in use ("TLSv1.3"), once TLS is established.
        var tlsVersion: String?
        /// The server said something: it, not the network, is the one a failure came from.
        var greeted = false
    }

    /// Told of each message's results as soon as its final reply arrives (its index in the batch, its
    /// results, and the connection as it stands), so its outcome is made durable then, not when the
    /// connection ends: a crash later in the batch does not send it again.
    typealias MessageFinished = @Sendable (_ index: Int, _ results: [SMTPClientSession.RecipientResult], _ outcome: Outcome) -> Void

    private var session: SMTPClientSession
    private var parser = SMTPReplyParser()
    private var input = ByteBuffer()
    /// The stored content of each message the session was given, in order.
    private let contents: [MessageContent]
    private let fileIO: NonBlockingFileIO
    private let threadPool: NIOThreadPool
    private let tls: OutboundTLS?
    private let timeouts: Timeouts
    private let promise: EventLoopPromise<Outcome>
    /// Sees every line sent and received, AUTH data redacted (`relaygate relay-test` prints it).
    private let transcript: (@Sendable (String) -> Void)?
    private var outcome = Outcome(connectionFailure: nil, tls: false)
    private var timeout: Scheduled<Void>?
    private let messageFinished: MessageFinished?

    struct Timeouts: Sendable {
        /// For a reply to a command (RFC 5321 4.5.3.2 recommends 5 minutes for most).
        var command: TimeAmount = .minutes(5)
        /// For the reply to the content's final dot (RFC 5321 4.5.3.2.6: 10 minutes).
        var finalReply: TimeAmount = .minutes(10)
    }

    init(
        session: SMTPClientSession, contents: [MessageContent], fileIO: NonBlockingFileIO, threadPool: NIOThreadPool,
        tls: OutboundTLS?, timeouts: Timeouts, promise: EventLoopPromise<Outcome>,
        transcript: (@Sendable (String) -> Void)? = nil, messageFinished: MessageFinished? = nil
    ) {
        self.transcript = transcript
        self.messageFinished = messageFinished
        self.session = session
        self.contents = contents
        self.fileIO = fileIO
        self.threadPool = threadPool
        self.tls = tls
        self.timeouts = timeouts
        self.promise = promise
        outcome.tls = session.configuration.tls == .implicit
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimeout(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        input.writeBuffer(&bytes)
        do {
            while let reply = try parser.next(from: &input) {
                if let transcript {
                    for (index, line) in reply.lines.enumerated() {
                        let separator = index == reply.lines.count - 1 ? " " : "-"
                        transcript("S: \(reply.code)\(separator)\(reply.enhancedCode.map { "\($0) " } ?? "")\(line)")
                    }
                }
                armTimeout(context: context)
                outcome.greeted = true
                session.receive(reply)
                drain(context: context)
                if session.isClosed { return }
            }
        } catch {
            session.connectionLost("protocol error: \(error)")
            drain(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        session.connectionLost("connection closed by the server")
        drain(context: context)
        promise.succeed(outcome)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            outcome.tls = true
            outcome.tlsVersion = (try? context.pipeline.syncOperations.nioSSL_tlsVersion()).flatMap { $0 }.map(Self.name)
            transcript?("(TLS established)")
            session.tlsEstablished()
            drain(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            session.tlsFailed(OutboundTLS.words(for: error, trust: tls?.trust))
        } else {
            session.connectionLost("\(error)")
        }
        drain(context: context)
    }

    private func drain(context: ChannelHandlerContext) {
        while let action = session.next() {
            switch action {
            case .send(let text):
                if let transcript {
                    for line in text.split(separator: "\r\n") { transcript("C: " + Self.redacted(line, stage: session.stage)) }
                }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            case .startTLS:
                transcript?("(TLS handshake)")
                startTLS(context: context)
            case .sendContent:
                sendContent(context: context)
            case .messageFinished(let results):
                outcome.finished.append(results)
                outcome.peerOffersDSN = session.serverExtensions["DSN"] != nil
                messageFinished?(outcome.finished.count - 1, results, outcome)
            case .connectionFailed(let failure):
                outcome.connectionFailure = failure
            case .close:
                timeout?.cancel()
                context.close(promise: nil)
            }
        }
    }

    static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }

    /// AUTH payloads and LOGIN responses never reach a transcript.
    static func redacted(_ line: Substring, stage: SMTPClientSession.Stage) -> String {
        guard stage == .auth else { return String(line) }
        let words = line.split(separator: " ")
        if words.first?.uppercased() == "AUTH" {
            return words.count > 2 ? "\(words[0]) \(words[1]) <redacted>" : String(line)
        }
        return "<redacted>"
    }

    private func startTLS(context: ChannelHandlerContext) {
        // RFC 3207 5 (and CVE-2011-0411 on the client side): bytes after the 220 were not protected.
        guard input.readableBytes == 0 else {
            session.connectionLost("the server sent data after its 220 to STARTTLS")
            return drain(context: context)
        }
        guard let tls else {
            session.tlsFailed("no TLS configuration")
            return drain(context: context)
        }
        parser.reset()
        do {
            let handler = try tls.makeHandler()
            try context.pipeline.syncOperations.addHandler(handler, position: .first)
        } catch {
            session.tlsFailed("\(error)")
            drain(context: context)
        }
    }

    private func sendContent(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let channel = context.channel
        let stuffer = NIOLoopBoundBox(DotStuffer(), eventLoop: loop)
        let fileIO = self.fileIO
        // The content of the message in progress: as many are finished as came before it.
        let content = contents[min(outcome.finished.count, contents.count - 1)]
        threadPool.runIfActive(eventLoop: loop) { try content.openDescriptor() }.flatMap { fd -> EventLoopFuture<Void> in
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
            return fileIO.readChunked(
                fileHandle: handle, fromOffset: 0, byteCount: content.length, chunkSize: 256 * 1024,
                allocator: channel.allocator, eventLoop: loop
            ) { chunk in
                let stuffed = stuffer.value.stuff(chunk)
                // Waiting for each write keeps at most one chunk in memory per connection.
                return channel.writeAndFlush(stuffed)
            }.flatMap {
                channel.writeAndFlush(stuffer.value.terminator())
            }.always { _ in try? handle.close() }
        }.assumeIsolated().whenComplete { result in
            self.armTimeout(context: context)
            if case .failure(let error) = result {
                self.session.connectionLost("could not send the content: \(error)")
                self.drain(context: context)
            }
        }
    }

    private func armTimeout(context: ChannelHandlerContext) {
        timeout?.cancel()
        let wait = session.awaitsFinalReply ? timeouts.finalReply : timeouts.command
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: wait) {
            self.session.connectionLost("timed out waiting for the server")
            self.drain(context: context)
        }
    }
}
