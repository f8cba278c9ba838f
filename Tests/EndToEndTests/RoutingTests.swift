import Foundation
import Testing

/// The rules engine in the running server: who may send to what, over a real socket. Loopback is made
/// untrusted (relay_networks elsewhere), so these clients are strangers unless they authenticate.
@Suite struct RoutingEndToEndTests {
    static let strangers = "smtp:\n  relay_networks: [\"10.0.0.0/8\"]\n"
    static let shop = "info@shop.example   alice@gmail.com, bob@outlook.example\nsales@shop.example  mailbox:sales\n"

    /// Opens a session as far as MAIL.
    func session(_ server: ServerProcess, from sender: String = "<carol@example.org>") async throws -> RawClient {
        let client = try RawClient(port: server.smtpPort)
        _ = try await client.readReply()
        try await client.send("EHLO client.example\r\n")
        _ = try await client.readReply()
        try await client.send("MAIL FROM:\(sender)\r\n")
        #expect(try await client.readReply()?.first?.hasPrefix("250") == true)
        return client
    }

    func rcpt(_ client: RawClient, _ path: String) async throws -> String {
        try await client.send("RCPT TO:\(path)\r\n")
        return try await client.readReply()?.first ?? "closed"
    }

    /// Forms that have opened relays in other servers. Each must stay at our domain (and find no rule) or be
    /// refused as relaying; none may send mail to other.example.
    @Test(arguments: [
        ("<user%other.example@shop.example>", "550 5.1.1"),  // percent hack
        ("<other.example!user@shop.example>", "550 5.1.1"),  // bang path
        ("<\"user@other.example\"@shop.example>", "550 5.1.1"),  // quoted local part holding an address
        ("<@shop.example:user@other.example>", "554 5.7.1"),  // source route: the last hop is what counts
        ("<user@[127.0.0.1]>", "554 5.7.1"),  // address literal
        ("<user@other.example>", "554 5.7.1"),  // plain relaying
        ("<user@other.example.>", "501 5.1.3"),  // trailing dot: not RFC 5321 syntax
        ("<info@shop.example>", "250 2.1.5"),  // and our own address is taken from anyone
    ])
    func openRelayForms(_ path: String, _ expected: String) async throws {
        try await withServer(config: Self.strangers, rules: ["10-shop.rules": Self.shop]) { server in
            let client = try await session(server)
            let reply = try await rcpt(client, path)
            #expect(reply.hasPrefix(expected), "\(path): \(reply)")
        }
    }

    @Test func aCatchAllTakesThePercentHackAsItsOwnAddressNeverAsARelay() async throws {
        let rules = "@shop.example   owner@gmail.com\n"
        try await withServer(config: Self.strangers, rules: ["10-shop.rules": rules]) { server in
            let client = try await session(server)
            #expect(try await rcpt(client, "<user%other.example@shop.example>").hasPrefix("250"))
            try await client.send("DATA\r\n")
            _ = try await client.readReply()
            try await client.send("Subject: x\r\n\r\nhi\r\n.\r\n")
            let queued = try #require(try await client.readReply()?.first)
            let id = String(try #require(queued.split(separator: " ").last))
            let show = try await ServerProcess.run(["queue", "show", id, "--spool", server.spool])
            #expect(show.output.contains("owner@gmail.com pending"), "\(show.output)")
            #expect(!show.output.contains("other.example pending"))
        }
    }

    @Test func theEnvelopeRecordsEachDestinationWithItsRuleRouteAndSRSSender() async throws {
        try await withServer(config: Self.strangers, rules: ["10-shop.rules": Self.shop]) { server in
            let client = try await session(server, from: "<carol@example.org>")
            #expect(try await rcpt(client, "<info@shop.example>").hasPrefix("250"))
            #expect(try await rcpt(client, "<sales@shop.example>").hasPrefix("250"))
            try await client.send("DATA\r\n")
            _ = try await client.readReply()
            try await client.send("Subject: x\r\n\r\nhi\r\n.\r\n")
            let queued = try #require(try await client.readReply()?.first)
            let id = String(try #require(queued.split(separator: " ").last))
            let show = try await ServerProcess.run(["queue", "show", id, "--spool", server.spool]).output
            let rulesFile = server.rules + "/10-shop.rules"
            #expect(show.contains("alice@gmail.com pending ORCPT=rfc822;info@shop.example route=mx rule=\(rulesFile):1 sender=<SRS0="), "\(show)")
            #expect(show.contains("=example.org=carol@shop.example>"), "\(show)")
            #expect(show.contains("bob@outlook.example pending"), "\(show)")
            #expect(show.contains("sales@shop.example pending route=mailbox:sales rule=\(rulesFile):2"), "\(show)")
            try await server.waitForLog("recipient queue_id=\(id)")
        }
    }

    @Test func aBadEditIsRefusedAndAGoodOneTakesEffectWithoutDroppingASession() async throws {
        try await withServer(config: Self.strangers, rules: ["10-shop.rules": Self.shop]) { server in
            let client = try await session(server)
            #expect(try await rcpt(client, "<new@shop.example>").hasPrefix("550 5.1.1"))
            let file = URL(fileURLWithPath: server.rules + "/10-shop.rules")

            try (Self.shop + "new@shop.example   broken@@gmail.com\n").write(to: file, atomically: true, encoding: .utf8)
            kill(server.process.processIdentifier, SIGHUP)
            try await server.waitForLog("rules not reloaded")
            #expect(server.logText.contains("10-shop.rules:3"), "the log names the bad line")
            #expect(try await rcpt(client, "<info@shop.example>").hasPrefix("250"), "the old rules still serve")
            #expect(try await rcpt(client, "<new@shop.example>").hasPrefix("550"))

            try (Self.shop + "new@shop.example   dave@gmail.com\n").write(to: file, atomically: true, encoding: .utf8)
            kill(server.process.processIdentifier, SIGHUP)
            // The change may be noticed by the signal or by the file watch first; either reloads.
            try await server.waitForLog("rules reloaded")
            #expect(try await rcpt(client, "<new@shop.example>").hasPrefix("250"), "the same session sees the new rules")
            kill(server.process.processIdentifier, SIGHUP)
            try await server.waitForLog("reason=SIGHUP rules=3")
        }
    }

    @Test func aChangedFileIsNoticedWithoutASignal() async throws {
        try await withServer(config: Self.strangers, rules: ["10-shop.rules": Self.shop]) { server in
            try "extra@shop.example   erin@gmail.com\n".write(
                to: URL(fileURLWithPath: server.rules + "/20-more.rules"), atomically: true, encoding: .utf8)
            try await server.waitForLog("reason=\"rules changed\" rules=3", timeout: .seconds(10))
            let client = try await session(server)
            #expect(try await rcpt(client, "<extra@shop.example>").hasPrefix("250"))
        }
    }

    @Test func rulesTestShowsTheDecisionAndExitsBySuccess() async throws {
        try await withServer(config: Self.strangers, rules: ["10-shop.rules": Self.shop]) { server in
            let accepted = try await ServerProcess.run(
                ["rules", "test", "info@shop.example", "--from", "carol@example.org", "--rules", server.rules, "--spool", server.spool])
            #expect(accepted.status == 0, "\(accepted.output)")
            #expect(accepted.output.contains("accepted"), "\(accepted.output)")
            #expect(accepted.output.contains("10-shop.rules:1"), "\(accepted.output)")
            #expect(accepted.output.contains("alice@gmail.com via mx"), "\(accepted.output)")
            #expect(accepted.output.contains("rewritten to <SRS0="), "\(accepted.output)")

            let refused = try await ServerProcess.run(
                ["rules", "test", "user@other.example", "--client", "192.0.2.1", "--rules", server.rules, "--spool", server.spool])
            #expect(refused.status == 1, "\(refused.output)")
            #expect(refused.output.contains("554 5.7.1"), "\(refused.output)")

            let relayed = try await ServerProcess.run(
                ["rules", "test", "user@other.example", "--auth", "app1", "--rules", server.rules, "--spool", server.spool])
            #expect(relayed.status == 0, "\(relayed.output)")
        }
    }

    @Test func checkReportsRuleErrorsWithFileAndLine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("rules"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "a@shop.example  b@shop.example\nb@shop.example  a@shop.example\nroute gmail.com relay:nowhere\n".write(
            to: directory.appendingPathComponent("rules/10-bad.rules"), atomically: true, encoding: .utf8)
        let result = try await ServerProcess.run(["check"], directory: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("rules/10-bad.rules:1: alias cycle"), "\(result.output)")
        #expect(result.output.contains("rules/10-bad.rules:3: relay:nowhere is not an upstream"), "\(result.output)")
        let serve = try await ServerProcess.run(["serve", "--smtp", "127.0.0.1:0"], directory: directory)
        #expect(serve.status != 0, "serve refuses rules that do not validate")
        #expect(serve.output.contains("10-bad.rules:1"), "\(serve.output)")
    }
}
