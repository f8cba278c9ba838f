import Foundation
import Spool
import Testing

/// Limits that need a real server: connections, timeouts, shutdown, very large messages.
@Suite struct LimitsTests {
    @Test func connectionsPerClientAreLimited() async throws {
        try await withServer(config: "smtp:\n  max_connections_per_client: 2\n") { server in
            let first = try RawClient(port: server.smtpPort)
            let second = try RawClient(port: server.smtpPort)
            #expect(try await first.readReply()?.first?.hasPrefix("220") == true)
            #expect(try await second.readReply()?.first?.hasPrefix("220") == true)
            let third = try RawClient(port: server.smtpPort)
            #expect(try await third.readReply()?.first?.hasPrefix("421 4.7.0 Too many connections from your address") == true)
            #expect(try await third.isClosed())
            // A place frees up when a client leaves.
            try await first.send("QUIT\r\n")
            _ = try await first.readReply()
            #expect(try await first.isClosed())
            try await waitUntil { (try? await RawClient(port: server.smtpPort).readReply()?.first?.hasPrefix("220")) == true }
            withExtendedLifetime(second) {}
        }
    }

    @Test func connectionsInTotalAreLimited() async throws {
        try await withServer(config: "smtp:\n  max_connections: 1\n") { server in
            let first = try RawClient(port: server.smtpPort)
            #expect(try await first.readReply()?.first?.hasPrefix("220") == true)
            let second = try RawClient(port: server.smtpsPort)  // the limit spans listeners
            #expect(try await second.isClosed(), "over the limit, a TLS client gets no greeting and is closed")
            let third = try RawClient(port: server.smtpPort)
            #expect(try await third.readReply()?.first?.hasPrefix("421 4.7.0 Too many connections") == true)
        }
    }

    @Test func idleClientTimesOut() async throws {
        try await withServer(config: "smtp:\n  command_timeout: 300ms\n") { server in
            let client = try RawClient(port: server.smtpPort)
            #expect(try await client.readReply()?.first?.hasPrefix("220") == true)
            #expect(try await client.readReply()?.first?.hasPrefix("421 4.4.2") == true)
            #expect(try await client.isClosed())
            try await server.waitForLog("timeout, closing")
        }
    }

    @Test func stalledDataTimesOutAndKeepsNothing() async throws {
        try await withServer(config: "smtp:\n  data_timeout: 300ms\n") { server in
            let client = try RawClient(port: server.smtpPort)
            _ = try await client.readReply()
            try await client.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n")
            for _ in 0..<3 { _ = try await client.readReply() }
            try await client.send("DATA\r\n")
            #expect(try await client.readReply()?.first?.hasPrefix("354") == true)
            try await client.send("Subject: never finished\r\n")
            #expect(try await client.readReply()?.first?.hasPrefix("421 4.4.2") == true)
            #expect(try await client.isClosed())
            try await server.waitForLog("phase=DATA")
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/tmp").isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/incoming").isEmpty)
        }
    }

    @Test func lowDiskSpaceIsRefusedAtMail() async throws {
        try await withServer(config: "smtp:\n  min_free_space: 1000000GiB\n") { server in
            let client = try RawClient(port: server.smtpPort)
            _ = try await client.readReply()
            try await client.send("EHLO c\r\n")
            _ = try await client.readReply()
            try await client.send("MAIL FROM:<a@example.org>\r\n")
            #expect(try await client.readReply()?.first?.hasPrefix("452 4.3.1") == true)
        }
    }

    @Test func largeMessageIsStreamedToDiskExactly() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.smtpPort)
            _ = try await client.readReply()
            try await client.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
            for _ in 0..<3 { _ = try await client.readReply() }
            #expect(try await client.readReply()?.first?.hasPrefix("354") == true)
            var content = [UInt8]("Subject: large\r\n\r\n".utf8)
            let line = [UInt8](repeating: UInt8(ascii: "z"), count: 998) + [13, 10]
            while content.count < 12 << 20 { content += line }
            try await client.send(content + Array(".\r\n".utf8))
            let reply = try #require(try await client.readReply()?.first)
            #expect(reply.hasPrefix("250 2.0.0 Ok: queued as"))
            let id = String(reply.split(separator: " ").last!)
            let body = try queuedContent(server, id)
            #expect(contentWithoutOurReceivedHeader(body) == Data(content))
        }
    }

    @Test func stopFinishesTheTransactionInFlightThenExits() async throws {
        // A grace far longer than the test needs: what is tested is that the stop waits for the transaction.
        let server = try await ServerProcess(config: "shutdown_grace: 5m\n")
        defer { server.removeDirectory() }
        let idle = try RawClient(port: server.smtpPort)
        _ = try await idle.readReply()
        let busy = try RawClient(port: server.smtpPort)
        _ = try await busy.readReply()
        try await busy.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        for _ in 0..<4 { _ = try await busy.readReply() }
        try await busy.send("Subject: in flight\r\n\r\n")
        kill(server.process.processIdentifier, SIGTERM)
        try await server.waitForLog("stopping")
        // The idle session is told at once; the busy one may finish its message.
        #expect(try await idle.readReply()?.first?.hasPrefix("421 4.3.2") == true)
        try await busy.send("last line\r\n.\r\n")
        #expect(try await busy.readReply()?.first?.hasPrefix("250 2.0.0 Ok: queued") == true)
        #expect(try await busy.readReply()?.first?.hasPrefix("421 4.3.2") == true)
        #expect(await server.stop() == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/incoming").count == 1)
    }
}

extension LimitsTests {
    /// A transaction still open when the stop's grace ends is cut with 421 (RFC 5321 3.8), its message
    /// dropped (never acknowledged: the client still has it), and the server exits cleanly.
    @Test func aTransactionStillOpenWhenTheGraceEndsIsCutWith421() async throws {
        let server = try await ServerProcess(config: "shutdown_grace: 300ms\n")
        defer { server.removeDirectory() }
        let busy = try RawClient(port: server.smtpPort)
        _ = try await busy.readReply()
        try await busy.send("EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        for _ in 0..<4 { _ = try await busy.readReply() }
        try await busy.send("Subject: never finished\r\n\r\n")
        #expect(await server.stop() == 0)
        #expect(try await busy.readReply()?.first?.hasPrefix("421 4.3.2") == true)
        #expect(try await busy.isClosed())
        #expect(server.logText.contains("the stop's grace is over, closing"), "\(server.logText)")
        #expect(!server.logText.contains("ERROR"), "\(server.logText)")
        for queue in ["incoming", "tmp"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/" + queue).isEmpty)
        }
    }
}

/// Polls a condition for up to five seconds (for effects that land asynchronously in another process).
/// Polls `condition` until it holds; past `limit`, fails with `failure` (evaluated then, so it can include
/// the server's log as it stands).
func waitUntil(
    within limit: Duration = .seconds(5), _ failure: @autoclosure () -> String = "condition not met in time",
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw ServerProcessError(failure()) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

extension LimitsTests {
    /// A client that opens the implicit-TLS port and never starts the handshake is closed after the command
    /// timeout, not kept for ever.
    @Test func silentTLSClientIsClosed() async throws {
        try await withServer(config: "smtp:\n  command_timeout: 200ms\n") { server in
            let client = try RawClient(port: server.smtpsPort, timeout: .seconds(15))
            #expect(try await client.isClosed())
        }
    }
}
