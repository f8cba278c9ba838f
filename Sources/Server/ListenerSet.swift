import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import Synchronization

/// The listening sockets of one protocol (SMTP, POP3, IMAP): plain ones, whose sessions may upgrade with
/// STARTTLS/STLS, and implicit-TLS ones (RFC 8314). Each accepted connection gets TLS in front if its
/// listener asks for it, then the protocol's handler. On a stop it stops accepting and asks every
/// connection to wind down (`ChannelShouldQuiesceEvent`).
public final class ListenerSet: Sendable {
    public struct Listener: Sendable, Hashable {
        public var address: ListenAddress
        public var implicitTLS: Bool
        /// A default listener that may be skipped when the host cannot offer it (IPv6 switched off).
        public var optional: Bool

        public init(address: ListenAddress, implicitTLS: Bool, optional: Bool = false) {
            self.address = address
            self.implicitTLS = implicitTLS
            self.optional = optional
        }
    }

    /// A listener that is up, with the port the system gave it.
    public struct BoundListener: Sendable {
        public let listener: Listener
        public let localAddress: SocketAddress
    }

    /// Makes the protocol handler for a new connection: its remote address, and whether it came in on an
    /// implicit-TLS listener.
    public typealias HandlerFactory = @Sendable (_ remote: SocketAddress?, _ implicitTLS: Bool) -> any ChannelHandler

    private let group: any EventLoopGroup
    private let tlsContext: NIOSSLContext?
    private let logger: Logger
    private let makeHandler: HandlerFactory
    /// One per listening socket: each collects the connections its listener accepts.
    private let quiescingHelpers = Mutex<[ServerQuiescingHelper]>([])

    public init(
        group: any EventLoopGroup, tlsContext: NIOSSLContext?, logger: Logger,
        makeHandler: @escaping HandlerFactory
    ) {
        self.group = group
        self.tlsContext = tlsContext
        self.logger = logger
        self.makeHandler = makeHandler
    }

    /// Binds every listener, or fails with a message that names the address, the cause and what to do about
    /// it. On failure every listener of this set is closed again, so nothing is left half started.
    public func start(_ listeners: [Listener]) async throws -> [BoundListener] {
        do {
            return try await bindAll(listeners)
        } catch {
            await shutdown(timeout: .seconds(1))
            throw error
        }
    }

    private func bindAll(_ listeners: [Listener]) async throws -> [BoundListener] {
        var bound: [BoundListener] = []
        for listener in listeners {
            do {
                let channel = try await bind(listener)
                let local = channel.localAddress!
                bound.append(BoundListener(listener: listener, localAddress: local))
                logger.info(
                    "listening",
                    metadata: [
                        "address": "\(Self.describe(local))", "tls": listener.implicitTLS ? "implicit" : "starttls",
                    ])
            } catch let error as IOError
                where listener.optional && [EAFNOSUPPORT, EADDRNOTAVAIL].contains(error.errnoCode)
            {
                logger.warning(
                    "skipping listener: this host has no such address", metadata: ["address": "\(listener.address)"])
            } catch {
                throw ListenError(address: listener.address, underlying: error)
            }
        }
        return bound
    }

    /// Stops accepting and asks every connection to wind down; returns when all are closed, or after
    /// `timeout`. The caller may then tear the event loops down.
    public func shutdown(timeout: TimeAmount) async {
        // Taking the helpers out also lets them go while the event loops still run, which they need.
        let helpers = quiescingHelpers.withLock { helpers in
            defer { helpers.removeAll() }
            return helpers
        }
        let loop = group.next()
        let quiesced = helpers.map { helper in
            let promise = loop.makePromise(of: Void.self)
            helper.initiateShutdown(promise: promise)
            return promise.futureResult
        }
        let done = loop.makePromise(of: Void.self)
        EventLoopFuture.andAllComplete(quiesced, on: loop).cascade(to: done)
        let deadline = loop.scheduleTask(in: timeout) { done.succeed() }
        try? await done.futureResult.get()
        deadline.cancel()
    }

    private func bind(_ listener: Listener) async throws -> any Channel {
        let implicitTLS = listener.implicitTLS
        let tlsContext = self.tlsContext
        let makeHandler = self.makeHandler
        guard !implicitTLS || tlsContext != nil else { throw ImplicitTLSWithoutCertificate() }
        let quiescing = ServerQuiescingHelper(group: group)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // Replies a client leaves unread stop the session above 64 KiB (see the handlers).
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS, let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                    }
                    try channel.pipeline.syncOperations.addHandler(makeHandler(channel.remoteAddress, implicitTLS))
                }
            }
        if listener.address.isIPv6 {
            // Let 0.0.0.0:25 and [::]:25 both bind: the IPv6 socket takes IPv6 only. The option lives at
            // IPPROTO_IPV6; `.socketOption` would set SOL_SOCKET's option of the same number (SO_ATTACH_FILTER).
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        let channel = try await bootstrap.bind(to: listener.address.socketAddress()).get()
        // Only a listener that is up has connections to wind down at shutdown.
        quiescingHelpers.withLock { $0.append(quiescing) }
        return channel
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// An implicit-TLS listener must never fall back to plaintext.
struct ImplicitTLSWithoutCertificate: Error, CustomStringConvertible {
    var description: String { "implicit TLS needs a TLS certificate, and none is set up" }
}

/// A listener that could not bind: the address, the cause in plain words, and the fix.
public struct ListenError: Error, CustomStringConvertible {
    public let address: ListenAddress
    public let underlying: any Error

    public init(address: ListenAddress, underlying: any Error) {
        self.address = address
        self.underlying = underlying
    }

    public var description: String {
        let choose = "choose other ports with the listener flags (--smtp, --pop3, ...), --port-offset, or listen: in relaygate.yaml"
        guard let code = (underlying as? IOError)?.errnoCode else {
            return "cannot listen on \(address): \(underlying); check the address, or \(choose)"
        }
        let cause: String
        let fix: String
        switch code {
        case EACCES, EPERM:
            cause = "permission denied"
            fix =
                address.port < 1024
                ? "ports below 1024 need root or CAP_NET_BIND_SERVICE (`setcap cap_net_bind_service=+ep` on the binary, "
                    + "or AmbientCapabilities= in the systemd unit), or \(choose)"
                : "a security policy (SELinux, AppArmor, a container) refuses it; allow it or \(choose)"
        case EADDRINUSE:
            cause = "the address is in use"
            fix = "another program listens there (`ss -ltnp 'sport = :\(address.port)'` names it; another mail server?); stop it or \(choose)"
        case EAFNOSUPPORT where address.isIPv6:
            cause = "this host has no IPv6"
            fix = "remove the IPv6 listeners, or enable IPv6 (net.ipv6.conf.all.disable_ipv6=0)"
        case EADDRNOTAVAIL:
            cause = "this host has no such address"
            fix = "check the address (`ip addr` lists this host's), or \(choose)"
        default:
            cause = String(cString: strerror(code)).lowercased()
            fix = "check the address, or \(choose)"
        }
        return "cannot listen on \(address): \(cause) (errno \(code)); \(fix)"
    }
}
