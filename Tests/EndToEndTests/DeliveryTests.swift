import Foundation
import Spool
import Testing

/// Delivery against scripted next hops on loopback (Peers/fake_upstream.py). Every route points at
/// 127.0.0.1: no test sends mail anywhere else.
@Suite struct DeliveryEndToEndTests {
    static let fast = "delivery:\n  first_retry: 1s\n  max_retry_interval: 2s\n"

    func send(_ server: ServerProcess, from sender: String = "alice@example.org", to recipients: [String]) async throws
        -> [String: Any]
    {
        try await Peer.run(
            "send", server: server, ["--port", "\(server.smtpPort)", "--from", sender] + recipients.flatMap { ["--to", $0] })
    }

    func spoolIsEmpty(_ server: ServerProcess) -> Bool {
        ["incoming", "active", "deferred", "queue"].allSatisfy {
            ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/" + $0)) ?? ["?"]).isEmpty
        }
    }

    func waitUntilSpoolIsEmpty(_ server: ServerProcess) async throws {
        try await waitUntil(within: .seconds(20), "the spool did not empty:\n\(server.logText)") {
            spoolIsEmpty(server)
        }
    }

    @Test func aMessageIsDeliveredToItsNextHopAndLeavesTheSpool() async throws {
        let upstream = try await FakeUpstream(mode: "accept")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            let result = try await send(server, to: ["bob@example.net", "carol@example.net"])
            #expect(result["ok"] as? Bool == true, "\(result)")
            let received = try await upstream.waitForTransactions(1)
            #expect(received[0].mail_from == "<alice@example.org>")
            #expect(received[0].rcpt_to == ["<bob@example.net>", "<carol@example.net>"], "one transaction for both")
            #expect(received[0].data.hasPrefix("Received: from peer.test"))
            #expect(received[0].data.hasSuffix("\r\nhello\r\n"))
            try await waitUntilSpoolIsEmpty(server)
            #expect(server.logText.contains("status=sent"), "one log line per delivery")
            #expect(server.logText.contains("relay=127.0.0.1:\(upstream.port)"))
        }
    }

    @Test func messagesWaitingForOneNextHopShareAConnection() async throws {
        let upstream = try await FakeUpstream(mode: "accept")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        // Queue five messages with delivery off, then start delivering: they go out together.
        var server = try await ServerProcess(rules: rules)
        defer { server.removeDirectory() }
        for index in 0..<5 { _ = try await send(server, to: ["r\(index)@example.net"]) }
        await server.stop()
        try Self.fast.write(
            to: server.directory.appendingPathComponent("rules/relaygate.yaml"), atomically: true, encoding: .utf8)
        server = try await server.restarted()
        let received = try await upstream.waitForTransactions(5)
        #expect(Set(received.map(\.connection)).count == 1, "one connection, RSET between messages")
        #expect(Set(received.flatMap(\.rcpt_to)).count == 5)
        try await waitUntilSpoolIsEmpty(server)
        await server.stop()
    }

    @Test(arguments: ["ipv4", "ipv6"])
    func theIPVersionSettingChoosesTheAddressesTried(_ version: String) async throws {
        let upstream = try await FakeUpstream(mode: "accept")  // listens on 127.0.0.1 only
        let rules = ["90-routes.rules": "route * [localhost]:\(upstream.port)\n"]
        try await withServer(config: Self.fast + "  ip_version: \(version)\n", rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["bob@example.net"])
            if version == "ipv4" {
                #expect(try await upstream.waitForTransactions(1)[0].rcpt_to == ["<bob@example.net>"])
            } else {
                try await server.waitForLog("status=deferred to=<bob@example.net>")
                #expect(server.logText.contains("localhost: no ipv6 address to connect to"), "\(server.logText)")
                #expect(upstream.transactions.isEmpty)
            }
        }
    }

    @Test func aTemporaryFailureIsRetried() async throws {
        let upstream = try await FakeUpstream(mode: "tempfail-first")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["bob@example.net"])
            let received = try await upstream.waitForTransactions(1)
            #expect(received[0].rcpt_to == ["<bob@example.net>"])
            #expect(server.logText.contains("status=deferred"), "\(server.logText)")
            #expect(server.logText.contains("450 4.2.0 mailbox busy"))
            try await waitUntilSpoolIsEmpty(server)
        }
    }

    @Test func aTemporaryFailureForOneRecipientRetriesOnlyThatOne() async throws {
        let upstream = try await FakeUpstream(mode: "busy-rcpt")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["ok@example.net", "busy@example.net"])
            let first = try await upstream.waitForTransactions(1)[0]
            #expect(first.rcpt_to == ["<ok@example.net>"])
            try await server.waitForLog("status=deferred to=<busy@example.net>")
            // The retry carries only the recipient still pending; the delivered one never gets a second copy.
            try await waitUntil(within: .seconds(20), "no retry:\n\(server.logText)") {
                server.logText.components(separatedBy: "status=deferred to=<busy@example.net>").count >= 3
            }
            #expect(upstream.transactions.count == 1)
            #expect(server.logText.components(separatedBy: "status=sent to=<ok@example.net>").count == 2)
        }
    }

    @Test func aConnectionDroppedAfterTheContentIsATemporaryFailure() async throws {
        let upstream = try await FakeUpstream(mode: "drop-after-data")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["bob@example.net"])
            try await server.waitForLog("status=deferred to=<bob@example.net>")
            #expect(server.logText.contains("DATA: connection closed by the server"), "\(server.logText)")
            #expect(!server.logText.contains("status=bounced"), "nothing is bounced for a broken connection")
        }
    }

    @Test func notifySuccessGetsARelayedNoticeFromANextHopWithoutDSN() async throws {
        let upstream = try await FakeUpstream(mode: "accept")
        let senders = try await FakeUpstream(mode: "accept")
        let rules = [
            "90-routes.rules": "route sender.example [127.0.0.1]:\(senders.port)\nroute * [127.0.0.1]:\(upstream.port)\n"
        ]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpPort)", "--from", "alice@sender.example", "--to", "bob@example.net",
                    "--rcpt-option", "NOTIFY=SUCCESS,FAILURE",
                ])
            #expect(try await upstream.waitForTransactions(1)[0].rcpt_to == ["<bob@example.net>"])
            let notice = try await senders.waitForTransactions(1)[0]
            #expect(notice.mail_from == "<>")
            #expect(notice.data.contains("Action: relayed\r\nStatus: 2.0.0"))
            #expect(notice.data.contains("Subject: Successful Mail Delivery Report"))
        }
    }

    @Test func aStopWaitsOnlyItsGraceForASlowNextHopAndPutsTheMessageBack() async throws {
        let upstream = try await FakeUpstream(mode: "slow-final")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        let server = try await ServerProcess(config: Self.fast + "shutdown_grace: 1s\n", rules: rules, delivery: true)
        defer { server.removeDirectory() }
        _ = try await send(server, to: ["bob@example.net"])
        // The content is sent; the next hop sits on its reply (RFC 5321 allows it 10 minutes).
        try await waitUntil(within: .seconds(10), "no delivery started") {
            !((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/active")) ?? []).isEmpty
        }
        #expect(await server.stop() == 0)
        // Timed by the server's own log, so a busy test machine slowing this test down does not count.
        let stopping = try #require(server.logTime(of: "stopping"))
        let stopped = try #require(server.logTime(of: "relaygate: stopped"))
        #expect(stopped.timeIntervalSince(stopping) < 8, "the stop waited for the next hop")
        // Cut off at the end of the grace, it went back to incoming/ untried: not an attempt, not a retry
        // five minutes on, and nothing left for recovery.
        let spool = try Spool(directory: server.spool, create: false)
        #expect(spool.ids(in: .active).isEmpty)
        #expect(spool.ids(in: .deferred).isEmpty)
        let id = try #require(spool.ids(in: .incoming).first)
        #expect(spool.peek(id, in: .incoming)?.attempts == 0)
        #expect(try spool.recover().requeued == 0)
    }

    @Test func aPermanentFailureBouncesToTheSenderWithADSN() async throws {
        let refusing = try await FakeUpstream(mode: "reject")
        let senders = try await FakeUpstream(mode: "accept")
        let rules = [
            "90-routes.rules": "route sender.example [127.0.0.1]:\(senders.port)\nroute * [127.0.0.1]:\(refusing.port)\n"
        ]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, from: "alice@sender.example", to: ["nobody@example.net"])
            let bounce = try await senders.waitForTransactions(1)[0]
            #expect(bounce.mail_from == "<>", "a bounce comes from the null sender")
            #expect(bounce.rcpt_to == ["<alice@sender.example>"])
            #expect(bounce.data.contains("Content-Type: multipart/report; report-type=delivery-status"))
            #expect(bounce.data.contains("Final-Recipient: rfc822; nobody@example.net"))
            #expect(bounce.data.contains("Remote-MTA: dns; 127.0.0.1\r\n"))
            #expect(bounce.data.contains("Status: 5.1.1"))
            #expect(bounce.data.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user here"))
            #expect(server.logText.contains("status=bounced"))
            try await waitUntilSpoolIsEmpty(server)
        }
    }

    @Test func bytesAfterTheSTARTTLSReplyAreNeverReadInsideTLS() async throws {
        let upstream = try await FakeUpstream(mode: "inject-starttls", tls: true)
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["bob@example.net"])
            try await server.waitForLog("data after its 220 to STARTTLS", timeout: .seconds(20))
            // Opportunistic TLS to this host failed, so (as for any broken TLS at a next hop) the message goes
            // again in plaintext, and the log says so; the injected bytes were never taken as a reply.
            let received = try await upstream.waitForTransactions(1)
            #expect(!received[0].tls)
            #expect(server.logText.contains("trying again without TLS"))
            #expect(!server.logText.contains("injected"))
        }
    }

    /// The issue's whole path: submitted on 465 with AUTH, to a forwarded address, out through an upstream
    /// that wants STARTTLS and AUTH, which sees the SRS sender.
    @Test func submittedWithAUTHForwardedThroughAnAuthenticatedUpstreamWithSRS() async throws {
        let upstream = try await FakeUpstream(mode: "require-auth", tls: true, user: "relay-user", password: "relay-pass")
        let config = Self.fast + """
            upstreams:
              provider:
                hosts: ["127.0.0.1:\(upstream.port)"]
                tls: starttls
                username: relay-user
                password: relay-pass
                verify_certificate: false

            """
        let rules = ["10-shop.rules": "info@shop.example   carol@far.example\nroute * relay:provider\n"]
        try await withServer(config: config, users: ["app": "app-pass"], rules: rules, delivery: true) { server in
            let result = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpsPort)", "--implicit-tls", "--user", "app", "--password", "app-pass",
                    "--from", "bob@example.org", "--to", "info@shop.example",
                ])
            #expect(result["ok"] as? Bool == true, "\(result)")
            let received = try await upstream.waitForTransactions(1)[0]
            #expect(received.tls && received.auth == "relay-user")
            #expect(received.mail_from.hasPrefix("<SRS0="), "\(received.mail_from)")
            #expect(received.mail_from.hasSuffix("=example.org=bob@shop.example>"))
            #expect(received.rcpt_to == ["<carol@far.example>"])
            #expect(!server.logText.contains("relay-pass"), "upstream passwords are never logged")
            try await waitUntilSpoolIsEmpty(server)
        }
    }

    /// A forward of a long real-world sender (an SES bounce address): its SRS sender is over RFC 5321's 64
    /// octets. The first attempt is deferred, so the retry reads the envelope back from disk: it must be
    /// sent, not quarantined. A late bounce to that SRS address is taken on RCPT and goes back to the sender.
    @Test func aForwardOfALongSenderSurvivesARetryAndItsBounceReturns() async throws {
        let upstream = try await FakeUpstream(mode: "tempfail-first")
        let senders = try await FakeUpstream(mode: "accept")
        let rules = [
            "10-shop.rules": """
            info@shop.example   carol@far.example
            route amazonses.com [127.0.0.1]:\(senders.port)
            route * [127.0.0.1]:\(upstream.port)

            """
        ]
        let sender = "010001890abcdef0-12345678-9abc-def0-1234-56789abcdef0-000000@amazonses.com"
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, from: sender, to: ["info@shop.example"])
            try await server.waitForLog("status=deferred")
            let received = try await upstream.waitForTransactions(1)[0]
            let srs = String(received.mail_from.dropFirst().dropLast())
            #expect(srs.hasPrefix("SRS0=") && srs.hasSuffix("@shop.example"), "\(srs)")
            #expect(try #require(srs.split(separator: "@").first).utf8.count > 64, "\(srs)")
            #expect(!server.logText.contains(" error "), "nothing quarantined, nothing failed: \(server.logText)")
            try await waitUntilSpoolIsEmpty(server)

            // Far away, carol's server gives up later and bounces to the SRS address.
            let bounce = try await Peer.run(
                "send", server: server, ["--port", "\(server.smtpPort)", "--from", "", "--to", srs])
            #expect(bounce["ok"] as? Bool == true, "\(bounce)")
            let returned = try await senders.waitForTransactions(1)[0]
            #expect(returned.rcpt_to == ["<\(sender)>"])
        }
    }

    /// What a next hop says is kept (envelope, `queue show`) only as safe, bounded text: no escape sequence
    /// reaches an operator's terminal, whether the reply parses or not.
    @Test(arguments: ["hostile-reply", "malformed-reply"])
    func aNextHopsReplyIsKeptOnlyAsSafeText(_ mode: String) async throws {
        let upstream = try await FakeUpstream(mode: mode)
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        try await withServer(config: "delivery:\n  first_retry: 1h\n", rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["bob@example.net"])
            // Logged per attempt, then moved to deferred/ when the attempt is recorded.
            try await waitUntil {
                ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/deferred")) ?? []).count == 1
            }
            let id = try #require(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/deferred").first)
            let shown = try await ServerProcess.run(["queue", "show", id, "--rules", server.rules, "--spool", server.spool])
            let lastError = try #require(shown.output.split(separator: "\n").first { $0.contains("last error") })
            #expect(!shown.output.unicodeScalars.contains { $0.value < 32 && $0 != "\n" }, "\(shown.output)")
            #expect(!lastError.unicodeScalars.contains { (0x80...0x9F).contains($0.value) || $0.value == 0x202E })
            #expect(lastError.count < 1100, "bounded: \(lastError.count) characters")
            #expect(lastError.contains(mode == "hostile-reply" ? "450 4.2.0 ?[2J?]0;owned?busy??xxx" : "malformed reply line: 45?[31m0"), "\(lastError)")
            #expect(!server.logText.contains("\u{1B}"), "the log escapes it too")
        }
    }

    @Test func mailboxRoutesLandInAMaildir() async throws {
        let rules = ["10-shop.rules": "sales@shop.example   mailbox:sales\n"]
        try await withServer(config: Self.fast, rules: rules, delivery: true) { server in
            _ = try await send(server, to: ["sales@shop.example"])
            try await waitUntilSpoolIsEmpty(server)
            let new = server.spool + "/mailboxes/sales/new"
            let files = try FileManager.default.contentsOfDirectory(atPath: new)
            #expect(files.count == 1)
            let message = try String(contentsOfFile: new + "/" + files[0], encoding: .utf8)
            #expect(
                message.hasPrefix(
                    "Return-Path: <alice@example.org>\r\nDelivered-To: sales@shop.example\r\nReceived: from peer.test"))
            let sizes = files[0].split(separator: ",").dropFirst()
            #expect(sizes == ["S=\(message.utf8.count)", "W=\(message.utf8.count)"], "sizes in the name: \(files[0])")
        }
    }
}

/// The operator's queue commands against a running server's spool.
@Suite struct QueueCommandTests {
    static let slow = "delivery:\n  first_retry: 1h\n"

    func queueID(_ server: ServerProcess, after text: String) async throws -> String {
        try await server.waitForLog(text, timeout: .seconds(20))
        let line = try #require(server.logText.split(separator: "\n").first { $0.contains(text) })
        let field = try #require(line.split(separator: " ").first { $0.hasPrefix("queue_id=") })
        return String(field.dropFirst("queue_id=".count))
    }

    func queue(_ server: ServerProcess, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ServerProcess.run(["queue"] + arguments + ["--rules", server.rules, "--spool", server.spool])
    }

    @Test func retryHoldReleaseDeleteAndBounceWhileTheServerRuns() async throws {
        let upstream = try await FakeUpstream(mode: "tempfail-first")
        let senders = try await FakeUpstream(mode: "accept")
        let rules = [
            "90-routes.rules": """
            route sender.example [127.0.0.1]:\(senders.port)
            route nowhere.example [127.0.0.1]:1
            route * [127.0.0.1]:\(upstream.port)

            """
        ]
        try await withServer(config: Self.slow, rules: rules, delivery: true) { server in
            func send(_ to: String) async throws {
                _ = try await Peer.run(
                    "send", server: server, ["--port", "\(server.smtpPort)", "--from", "alice@sender.example", "--to", to])
            }
            // Deferred for an hour by the 450; held, not retried while held, released, delivered.
            try await send("bob@example.net")
            let first = try await queueID(server, after: "status=deferred")
            let shown = try await queue(server, ["show", first])
            #expect(shown.output.contains("state: deferred"), "\(shown.output)")
            #expect(shown.output.contains("last error: RCPT: 450 4.2.0 mailbox busy"), "\(shown.output)")
            #expect(shown.output.contains("next attempt:"))
            #expect(try await queue(server, ["hold", first]).status == 0)
            #expect(try await queue(server, ["hold", first]).output.contains("\(first) is already held"))
            #expect(try await queue(server, ["retry", "--all"]).output.contains("0 messages"), "a held message stays held")
            let retryHeld = try await queue(server, ["retry", first])
            #expect(retryHeld.status == 1 && retryHeld.output.contains("\(first) is held; `relaygate queue release"), "\(retryHeld.output)")
            // The server's log tells the message's story, the operator's part included.
            try await server.waitForLog("queue command queue_id=\(first) action=hold")
            #expect(try await queue(server, ["release", first]).status == 0)
            try await server.waitForLog("queue command queue_id=\(first) action=release")
            #expect(try await upstream.waitForTransactions(1)[0].rcpt_to == ["<bob@example.net>"])

            // Two messages nobody can take (connection refused): one deleted, one bounced to its sender.
            try await send("x@nowhere.example")
            try await send("y@nowhere.example")
            // Both deferred: logged per attempt, then moved to deferred/ when each attempt is recorded.
            try await waitUntil {
                ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/deferred")) ?? []).count == 2
            }
            let ids = try FileManager.default.contentsOfDirectory(atPath: server.spool + "/deferred").sorted()
            #expect(try await queue(server, ["delete", ids[0]]).status == 0)
            let bounced = try await queue(server, ["bounce", ids[1]])
            #expect(bounced.status == 0, "\(bounced.output)")
            let dsn = try await senders.waitForTransactions(1)[0]
            #expect(dsn.mail_from == "<>" && dsn.rcpt_to == ["<alice@sender.example>"])
            #expect(dsn.data.contains("returned to the sender by the mail system's operator"))
            #expect(try await queue(server, ["delete", ids[0]]).output.contains("no message"))
            try await server.waitForLog("queue command queue_id=\(ids[1]) action=bounce")
            #expect(server.logText.contains("queue command queue_id=\(ids[0]) action=delete"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/queue").isEmpty)
        }
    }
}

extension QueueCommandTests {
    /// A server with delivery off and one message waiting in incoming/, and that message's queue ID.
    func serverWithAQueuedMessage() async throws -> (ServerProcess, String) {
        let server = try await ServerProcess()
        _ = try await Peer.run(
            "send", server: server, ["--port", "\(server.smtpPort)", "--from", "a@example.org", "--to", "b@example.net"])
        return (server, try await queueID(server, after: " queued "))
    }

    /// A queue command never acts during a server's recovery: it waits for the spool's queue lock, and says
    /// whom it waits for. Here a stand-in process (Python's flock) holds the lock until the command waits.
    @Test func aQueueCommandWaitsForTheQueueLock() async throws {
        let (server, id) = try await serverWithAQueuedMessage()
        defer { server.removeDirectory() }
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            """
            import fcntl, os, sys, time
            lock = open(sys.argv[1], "a+")
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.truncate(0); lock.write("4242\\n"); lock.flush()
            print("locked", flush=True)
            # Let go once another process waits for this lock (a "->" line in /proc/locks), or after 30 s.
            inode = ":%d " % os.fstat(lock.fileno()).st_ino
            deadline = time.time() + 30
            while time.time() < deadline:
                if any("->" in line and inode in line for line in open("/proc/locks")):
                    break
                time.sleep(0.01)
            """,
            server.spool + "/lock.queue",
        ]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        #expect(try await unblocked { output.fileHandleForReading.availableLineBlocking() } == "locked")
        let held = try await queue(server, ["hold", id])
        #expect(held.status == 0, "\(held.output)")
        #expect(held.output.contains("waiting for PID 4242 to finish with the spool"), "\(held.output)")
        #expect(held.output.contains("\(id) is held"))
        await holder.exited()
        await server.stop()
    }

    /// What a command says when a message is not where the command can act on it.
    @Test func errorsSayWhereTheMessageIs() async throws {
        let (server, id) = try await serverWithAQueuedMessage()
        defer { server.removeDirectory() }
        let release = try await queue(server, ["release", id])
        #expect(release.status == 1 && release.output.contains("\(id) is not held (it is waiting for delivery)"))
        let retried = try await queue(server, ["retry", id])
        #expect(retried.status == 0, "a waiting message may be retried: \(retried.output)")
        let unknown = try await queue(server, ["hold", "0N4Y2K7H3QWBC5DE"])
        #expect(unknown.status == 1 && unknown.output.contains("no message 0N4Y2K7H3QWBC5DE in the queue"))
        #expect(!unknown.output.contains("USAGE"), "a runtime error, not a usage error")
        let typo = try await queue(server, ["hold", "nonsense"])
        #expect(typo.status == 64 && typo.output.contains("nonsense is not a queue ID"), "\(typo.output)")
        await server.stop()
    }
}

@Suite struct RelayTestCommandTests {
    func configured(_ upstream: FakeUpstream, password: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-relaytest-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try """
        hostname: relay.test
        upstreams:
          provider:
            hosts: ["127.0.0.1:\(upstream.port)"]
            tls: starttls
            username: relay-user
            password: \(password)
            verify_certificate: false

        """.write(to: directory.appendingPathComponent("relaygate.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    @Test func walksEHLOTLSAndAUTHWithSecretsRedacted() async throws {
        let upstream = try await FakeUpstream(mode: "require-auth", tls: true, user: "relay-user", password: "relay-pass")
        let good = try configured(upstream, password: "relay-pass")
        defer { try? FileManager.default.removeItem(at: good) }
        let probe = try await ServerProcess.run(["relay-test", "provider", "--rules", good.path, "--spool", good.path + "/spool"])
        #expect(probe.status == 0, "\(probe.output)")
        #expect(probe.output.contains("(TLS established)"))
        #expect(probe.output.contains("C: AUTH PLAIN <redacted>"))
        #expect(probe.output.contains("OK: provider took EHLO, TLS and AUTH"))
        #expect(!probe.output.contains("relay-pass") && !probe.output.contains("cmVsYXk"), "no secret, not even base64")

        let sent = try await ServerProcess.run(
            ["relay-test", "provider", "--to", "dest@far.example", "--rules", good.path, "--spool", good.path + "/spool"])
        #expect(sent.status == 0, "\(sent.output)")
        #expect(try await upstream.waitForTransactions(1)[0].rcpt_to == ["<dest@far.example>"])

        let bad = try configured(upstream, password: "wrong")
        defer { try? FileManager.default.removeItem(at: bad) }
        let refused = try await ServerProcess.run(["relay-test", "provider", "--rules", bad.path, "--spool", bad.path + "/spool"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("FAILED at AUTH: AUTH: 535 5.7.8 bad credentials"), "\(refused.output)")
    }
}
