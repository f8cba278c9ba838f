import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import Server

/// The listening sockets on the real network stack (loopback): both address families on one port, and the
/// socket options each accepted connection really has, read back from the kernel.
@Suite struct ListenerSetTests {
    /// Reports, for each accepted connection, the options the kernel holds for its socket.
    final class OptionProbe: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        struct Reading: Sendable {
            var soDebug: SocketOptionValue
            var tcpNoDelay: SocketOptionValue
        }
        let readings = Mutex<[Reading]>([])

        func channelActive(context: ChannelHandlerContext) {
            let channel = context.channel
            let soDebug = try? channel.syncOptions?.getOption(
                ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_DEBUG)))
            let noDelay = try? channel.syncOptions?.getOption(.tcpOption(.tcp_nodelay))
            readings.withLock { $0.append(Reading(soDebug: soDebug ?? -1, tcpNoDelay: noDelay ?? -1)) }
            context.writeAndFlush(NIOAny(ByteBuffer(string: "hello\r\n")), promise: nil)
            context.fireChannelActive()
        }
    }

    func makeListeners(_ probe: OptionProbe, group: any EventLoopGroup) -> ListenerSet {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return ListenerSet(group: group, tlsContext: nil, logger: logger) { _, _ in probe }
    }

    /// Connects, reads the first line, and closes.
    func greeting(_ host: String, _ port: Int, group: any EventLoopGroup) async throws -> String {
        let channel = try await ClientBootstrap(group: group).connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        return try await channel.executeThenClose { inbound, _ in
            var text = ""
            for try await buffer in inbound {
                text += String(buffer: buffer)
                if text.hasSuffix("\r\n") { break }
            }
            return text
        }
    }

    /// `[::]:P` and `0.0.0.0:P` bind side by side (IPV6_V6ONLY, set at IPPROTO_IPV6), and each answers its
    /// own family. Before the fix the option went to SOL_SOCKET and every IPv6 listener failed with EINVAL.
    @Test func bothFamiliesShareOnePort() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let probe = OptionProbe()
        // The kernel reserves a port only for the family bound: while the IPv6 listener has it, an IPv4
        // socket elsewhere (another test's outgoing connection) may take the same number. Then another
        // port is tried; every attempt must bind both families.
        var attempts = 0
        var bound: (listeners: ListenerSet, port: Int)?
        while bound == nil && attempts < 5 {
            attempts += 1
            let listeners = makeListeners(probe, group: group)
            let v6 = try await listeners.start([.init(address: ListenAddress(host: "::", port: 0), implicitTLS: false)])
            let port = try #require(v6.first?.localAddress.port)
            do {
                let v4 = try await listeners.start([
                    .init(address: ListenAddress(host: "0.0.0.0", port: port), implicitTLS: false)
                ])
                #expect(v4.first?.localAddress.port == port)
                bound = (listeners, port)
            } catch where "\(error)".contains("address is in use") {
                await listeners.shutdown(timeout: .seconds(1))
            }
        }
        let (listeners, port) = try #require(bound, "no port was free on both families in \(attempts) tries")
        #expect(try await greeting("127.0.0.1", port, group: group) == "hello\r\n")
        #expect(try await greeting("::1", port, group: group) == "hello\r\n")
        await listeners.shutdown(timeout: .seconds(1))
        try await group.shutdownGracefully()
    }

    /// An accepted connection has TCP_NODELAY (at IPPROTO_TCP) and not SO_DEBUG, the SOL_SOCKET option of the
    /// same number: setting that one needs CAP_NET_ADMIN, and without it NIO closed every connection.
    @Test func acceptedConnectionsHaveNoDelayAndNotDebug() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let probe = OptionProbe()
        let listeners = makeListeners(probe, group: group)
        let bound = try await listeners.start([
            .init(address: ListenAddress(host: "127.0.0.1", port: 0), implicitTLS: false)
        ])
        let port = try #require(bound.first?.localAddress.port)
        _ = try await greeting("127.0.0.1", port, group: group)
        let reading = try #require(probe.readings.withLock { $0.first })
        #expect(reading.soDebug == 0)
        #expect(reading.tcpNoDelay != 0)
        await listeners.shutdown(timeout: .seconds(1))
        try await group.shutdownGracefully()
    }
}
