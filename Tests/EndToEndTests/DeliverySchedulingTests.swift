import Foundation
import Testing

/// The delivery scheduler with its real driver, against next hops written in Python: one destination
/// that never answers does not hold up another, and a stop in the middle of deliveries sends nothing twice.
@Suite struct DeliverySchedulingTests {
    func queue(_ count: Int, to recipient: String, on server: ServerProcess) async throws {
        let result = try await Peer.run(
            "send", server: server,
            ["--port", "\(server.smtpPort)", "--from", "alice@example.org", "--to", recipient, "--repeat", "\(count)"])
        #expect(result["ok"] as? Bool == true, "\(result)")
    }

    /// 100 messages to a tarpit (it takes connections and never greets); then one message to another
    /// domain reaches its next hop within 2 seconds. (Before the scheduler, messages waiting for the
    /// tarpit's slots filled the global limit, and the other message waited for their time-outs.)
    @Test func aTarpitDoesNotHoldUpAnotherDomain() async throws {
        let tarpit = try await FakeUpstream(mode: "tarpit")
        let sink = try await FakeUpstream(mode: "accept")
        let rules = [
            "90-routes.rules": "route tarpit.example [127.0.0.1]:\(tarpit.port)\nroute * [127.0.0.1]:\(sink.port)\n"
        ]
        try await withServer(
            config: "shutdown_grace: 1s\ndelivery:\n  max_connections: 100\n  max_per_destination: 20\n", rules: rules,
            delivery: true
        ) { server in
            try await queue(100, to: "x@tarpit.example", on: server)
            try await waitUntil(within: .seconds(10), "the tarpit's messages were not claimed") {
                ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/active")) ?? []).count == 100
            }
            try await queue(1, to: "bob@example.net", on: server)
            _ = try await sink.waitForTransactions(1, timeout: .seconds(20))
            // Timed by the server's own log, from intake's commit to the next hop's 250: a busy test machine
            // starting the Python client slowly does not count.
            try await server.waitForLog("status=sent to=<bob@example.net>")
            let accepted = try #require(server.logTime(of: "to=<bob@example.net>"))
            let delivered = try #require(server.logTime(of: "status=sent to=<bob@example.net>"))
            #expect(delivered.timeIntervalSince(accepted) < 2, "\(delivered.timeIntervalSince(accepted)) s")
        }
    }

    /// A stop whose grace ends while connects hang (a next hop that drops SYNs) exits at the grace, not at
    /// the 30-second connect timeout, and the messages are back in incoming/, untried.
    @Test func aStopCutsShortConnectsInProgress() async throws {
        let unreachable = try await FakeUpstream(mode: "unreachable")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(unreachable.port)\n"]
        let server = try await ServerProcess(config: "shutdown_grace: 1s\n", rules: rules, delivery: true)
        defer { server.removeDirectory() }
        try await queue(3, to: "bob@example.net", on: server)
        try await waitUntil(within: .seconds(10), "the messages were not claimed") {
            ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/active")) ?? []).count == 3
        }
        let start = ContinuousClock.now
        #expect(await server.stop() == 0)
        let took = ContinuousClock.now - start
        #expect(took < .seconds(10), "the stop waited \(took) for connects that never finish")
        let incoming = (try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/incoming")) ?? []
        #expect(incoming.count == 3, "\(server.logText)")
    }

    /// SIGTERM while a slow next hop takes messages one every half second over two connections: the
    /// deliveries in flight finish within the grace and are recorded, those not started go back, and after
    /// a restart every message has arrived exactly once.
    @Test func aStopDuringDeliveriesSendsNothingTwice() async throws {
        let sink = try await FakeUpstream(mode: "slow-accept")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(sink.port)\n"]
        var server = try await ServerProcess(
            config:
                "shutdown_grace: 30s\ndelivery:\n  first_retry: 1s\n  max_retry_interval: 1s\n  max_per_destination: 2\n",
            rules: rules,
            delivery: true)
        defer { server.removeDirectory() }
        try await queue(40, to: "bob@example.net", on: server)
        _ = try await sink.waitForTransactions(5, timeout: .seconds(20))
        #expect(await server.stop() == 0)
        #expect(sink.transactions.count < 40, "the stop came while deliveries were still to do")
        server = try await server.restarted()
        _ = try await sink.waitForTransactions(40, timeout: .seconds(30))
        try await waitUntil(within: .seconds(10), "the spool did not empty:\n\(server.logText)") {
            ["incoming", "active", "deferred"].allSatisfy {
                ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/" + $0)) ?? ["?"]).isEmpty
            }
        }
        await server.stop()
        let copies = sink.transactions.map { transaction in
            transaction.data.split(separator: "\r\n").first { $0.hasPrefix("X-Copy: ") } ?? ""
        }
        #expect(copies.count == 40, "\(copies.count) arrivals for 40 messages")
        #expect(Set(copies).count == 40)
    }

    /// The delivery line says which address the mail went to and how: the TLS version, and that an MX-style
    /// opportunistic connection did not verify the certificate.
    @Test func theLogLineNamesTheAddressAndTheTLS() async throws {
        let sink = try await FakeUpstream(mode: "accept", tls: true)
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(sink.port)\n"]
        try await withServer(rules: rules, delivery: true) { server in
            try await queue(1, to: "bob@example.net", on: server)
            _ = try await sink.waitForTransactions(1)
            try await server.waitForLog("status=sent")
            let line = try #require(server.logText.split(separator: "\n").first { $0.contains("status=sent") })
            #expect(line.contains("relay=127.0.0.1:\(sink.port)"))
            #expect(line.contains("tls=TLSv1.3") || line.contains("tls=TLSv1.2"), "\(line)")
            #expect(line.contains("verified=no"), "\(line)")
        }
    }
}
