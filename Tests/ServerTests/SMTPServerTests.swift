import Logging
import NIOPosix
import Routing
import SMTPProtocol
import Testing

@testable import Server

@Suite struct SMTPServerTests {
    @Test func implicitTLSWithoutACertificateRefusesToStart() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let service = SMTPServiceContext(
            configuration: SMTPServerConfiguration(hostname: "mx.test"), watchdogLimits: .init(),
            policy: RelayNetworksPolicy(), store: DiscardingMessageStore(), authenticator: nil, tlsContext: nil,
            connectionLimiter: .init(maxConnections: 1, maxPerClient: 1), logger: logger)
        let server = SMTPServer(service: service, group: group)
        let address = try #require(ListenAddress("127.0.0.1:0"))
        await #expect {
            _ = try await server.start([.init(address: address, implicitTLS: true)])
        } throws: { error in
            "\(error)".contains("implicit TLS needs a TLS certificate")
        }
        await server.shutdown()
        try await group.shutdownGracefully()
    }
}
