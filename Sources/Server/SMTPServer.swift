import Logging
import NIOCore

/// The SMTP listeners: plain ones that offer STARTTLS (25, 2525) and implicit-TLS ones (465, RFC 8314).
public final class SMTPServer: Sendable {
    public typealias Listener = ListenerSet.Listener
    public typealias BoundListener = ListenerSet.BoundListener

    public let service: SMTPServiceContext
    private let listeners: ListenerSet

    public init(service: SMTPServiceContext, group: any EventLoopGroup) {
        self.service = service
        listeners = ListenerSet(group: group, tlsContext: service.tlsContext, logger: service.logger) {
            remote, implicitTLS in
            SMTPServerHandler(service: service, remoteAddress: remote, implicitTLS: implicitTLS)
        }
    }

    /// Binds every listener, or fails with a message that names the address and what to do about it.
    public func start(_ listeners: [Listener]) async throws -> [BoundListener] {
        try await self.listeners.start(listeners)
    }

    /// Stops accepting, asks every session to finish (idle ones close with 421 at once; one in a
    /// transaction after it, or with 421 when the service's `shutdownGrace` is over), and returns when all
    /// are closed. A commit still running then has a few seconds more; after that the caller may go on and
    /// tear the event loops down.
    public func shutdown() async {
        await listeners.shutdown(timeout: service.shutdownGrace + .seconds(3))
    }
}
