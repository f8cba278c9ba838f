import Foundation
import NIOCore
import NIOPosix

/// `relaygate bench send`: a load generator in the manner of Postfix's smtp-source. Each session opens one
/// connection, says EHLO once, then sends its share of messages back to back — MAIL, RCPT and DATA
/// pipelined (RFC 2920), then the content — and measures each message from MAIL to the final 250.
public struct LoadGenerator: Sendable {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var messages: Int
        public var size: Int
        public var sessions: Int
        public var sender = "bench@relaygate.test"
        public var recipient = "sink@relaygate.test"

        public init(host: String, port: Int, messages: Int, size: Int, sessions: Int) {
            self.host = host
            self.port = port
            self.messages = messages
            self.size = size
            self.sessions = sessions
        }
    }

    public struct Report: Sendable, CustomStringConvertible {
        public let messages: Int
        public let failures: Int
        public let seconds: Double
        /// Per-message latencies in seconds, sorted.
        public let latencies: [Double]

        public var rate: Double { Double(messages) / seconds }

        public func percentile(_ fraction: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            return latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]
        }

        public var description: String {
            func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }
            return """
                messages: \(messages) accepted, \(failures) refused, in \(String(format: "%.2f", seconds)) s
                rate: \(String(format: "%.0f", rate)) messages/s
                latency: p50 \(ms(percentile(0.5))), p99 \(ms(percentile(0.99))), max \(ms(latencies.last ?? 0))
                """
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run() async throws -> Report {
        let group = MultiThreadedEventLoopGroup.singleton
        let content = Self.content(size: options.size)
        let perSession = (0..<options.sessions).map { index in
            options.messages / options.sessions + (index < options.messages % options.sessions ? 1 : 0)
        }
        let start = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: ([Double], Int).self) { tasks in
            for count in perSession where count > 0 {
                tasks.addTask { try await runSession(messages: count, content: content, group: group) }
            }
            var latencies: [Double] = []
            var failures = 0
            for try await (sessionLatencies, sessionFailures) in tasks {
                latencies += sessionLatencies
                failures += sessionFailures
            }
            return (latencies, failures)
        }
        let elapsed = ContinuousClock.now - start
        return Report(
            messages: results.0.count, failures: results.1,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            latencies: results.0.sorted())
    }

    private func runSession(messages: Int, content: ByteBuffer, group: any EventLoopGroup) async throws
        -> ([Double], Int)
    {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: options.host, port: options.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var replies = ReplyReader(inbound)
            try await expect(220, try await replies.next())
            try await outbound.write(ByteBuffer(string: "EHLO bench.relaygate.test\r\n"))
            try await expect(250, try await replies.next())
            let envelope = ByteBuffer(
                string:
                    "MAIL FROM:<\(options.sender)> SIZE=\(content.readableBytes)\r\nRCPT TO:<\(options.recipient)>\r\nDATA\r\n"
            )
            var latencies: [Double] = []
            var failures = 0
            latencies.reserveCapacity(messages)
            for _ in 0..<messages {
                let started = ContinuousClock.now
                try await outbound.write(envelope)
                let mail = try await replies.next()
                let rcpt = try await replies.next()
                let data = try await replies.next()
                guard mail.code == 250, rcpt.code == 250, data.code == 354 else {
                    failures += 1
                    if data.code == 354 {
                        try await outbound.write(ByteBuffer(string: ".\r\n")); _ = try await replies.next()
                    }
                    try await outbound.write(ByteBuffer(string: "RSET\r\n"))
                    _ = try await replies.next()
                    continue
                }
                try await outbound.write(content)
                let final = try await replies.next()
                if final.code == 250 {
                    let elapsed = ContinuousClock.now - started
                    latencies.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                } else {
                    failures += 1
                }
            }
            try await outbound.write(ByteBuffer(string: "QUIT\r\n"))
            _ = try? await replies.next()
            return (latencies, failures)
        }
    }

    private func expect(_ code: Int, _ reply: ReplyReader.Reply) async throws {
        guard reply.code == code else { throw BenchError("expected \(code), server said: \(reply.text)") }
    }

    /// A message of `size` octets before the end marker (never less than its three header lines, about
    /// 90 octets): the headers, then 76-character lines.
    static func content(size: Int) -> ByteBuffer {
        var text = "From: <bench@relaygate.test>\r\nTo: <sink@relaygate.test>\r\nSubject: relaygate bench\r\n\r\n"
        let line = String(repeating: "x", count: 76) + "\r\n"
        while text.utf8.count + line.utf8.count <= size { text += line }
        let remaining = size - text.utf8.count
        if remaining >= 2 { text += String(repeating: "y", count: remaining - 2) + "\r\n" }
        text += ".\r\n"
        return ByteBuffer(string: text)
    }
}
