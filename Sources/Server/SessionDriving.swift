import Logging
import MailModel
import NIOCore
import NIOSSL
import ProtocolSupport

/// What the POP3 and IMAP drivers (and, for TLS names and errors, the SMTP driver) do alike, once:
/// STARTTLS/STLS, credential checks with their delay, error logging and closing after the last reply.
enum SessionDriving {
    /// Puts TLS in front of everything read from now on; the plaintext OK to STARTTLS is flushed first.
    static func startTLS(context: ChannelHandlerContext, tlsContext: NIOSSLContext?, logger: Logger) {
        guard let tlsContext else { return context.close(promise: nil) }
        context.flush()
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
        } catch {
            logger.error("could not start TLS", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Checks credentials off the event loop and calls `finish` on it, after the throttling delay if any.
    static func authenticate(
        _ credentials: Credentials, authenticator: Authenticator?, from address: IPAddress?,
        context: ChannelHandlerContext, finish: @escaping (AuthenticationResult) -> Void
    ) {
        guard let authenticator else { return finish(.rejected) }
        authenticator.authenticate(credentials, from: address, on: context.eventLoop).assumeIsolated()
            .whenComplete { result in
                let verdict = (try? result.get()) ?? Authenticator.Verdict(result: .temporaryFailure, delay: .zero)
                guard verdict.delay > .zero else { return finish(verdict.result) }
                context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Clocks.nanoseconds(verdict.delay))) {
                    finish(verdict.result)
                }
            }
    }

    /// The TLS version's name for the log.
    static func tlsVersion(context: ChannelHandlerContext) -> String {
        negotiatedTLSVersion(context: context) ?? "TLS"
    }

    /// The negotiated TLS version's name (`TLSv1.3`), nil when the TLS handler cannot say.
    static func negotiatedTLSVersion(context: ChannelHandlerContext) -> String? {
        let version = (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self))?.tlsVersion
        return version.map(SMTPServerHandler.name(of:))
    }

    /// Logs a connection error at the level it deserves, and closes.
    static func errorCaught(context: ChannelHandlerContext, error: any Error, logger: Logger) {
        if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError {
            // The client closed TCP without a TLS close_notify: common and harmless.
            logger.debug("client closed without TLS close_notify")
        } else if error is NIOSSLError || error is BoringSSLError {
            logger.info("TLS failed, closing", metadata: ["error": "\(error)"])
        } else {
            logger.debug("connection error, closing", metadata: ["error": "\(error)"])
        }
        context.close(promise: nil)
    }

    /// Turns away a connection over the limits: `refusal` (a line ending in CRLF) on a plain connection, a
    /// bare close on an implicit-TLS one (a reply would need a handshake we do not want to spend on it).
    static func refuseOverLimit(context: ChannelHandlerContext, implicitTLS: Bool, refusal: String, logger: Logger) {
        logger.warning("connection refused: over the limit")
        context.fireChannelActive()
        guard !implicitTLS else { return context.close(promise: nil) }
        context.writeAndFlush(NIOAny(ByteBuffer(string: refusal))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Runs `check` every `interval` (a quarter of `timeout`, between 10 ms and `ceiling`) while the channel
    /// is open and `check` returns true: the idle timers of the POP3 and IMAP drivers.
    static func every(
        quarterOf timeout: TimeAmount, ceiling: TimeAmount, context: ChannelHandlerContext,
        _ check: @escaping () -> Bool
    ) {
        let interval = min(TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 10_000_000)), ceiling)
        context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
            guard context.channel.isActive, check() else { return }
            every(quarterOf: timeout, ceiling: ceiling, context: context, check)
        }
    }

    /// Closes once `lastWrite` is done, or after 5 s if it never is (a client that stopped reading).
    static func close(context: ChannelHandlerContext, after lastWrite: EventLoopFuture<Void>?) {
        context.flush()
        guard let lastWrite else { return context.close(promise: nil) }
        lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(5)) {
            if context.channel.isActive { context.close(promise: nil) }
        }
    }
}
