import Foundation
import Testing

/// POP3 against Python's poplib: mail delivered by SMTP through a `mailbox:` rule is read back byte for
/// byte, over implicit TLS (995) and STLS (110).
@Suite struct POP3EndToEndTests {
    static let rules = ["10-shop.rules": "alice@shop.example   mailbox:alice\n"]
    static let users = ["alice": "correct horse"]

    /// Sends the messages by SMTP and waits until they are in the mailbox (new/ or cur/: an IMAP session may
    /// move them at once).
    func deliver(_ server: ServerProcess, _ messages: [String]) async throws {
        let before = mailboxFiles(server).count
        for message in messages {
            let result = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpPort)", "--from", "bob@example.org", "--to", "alice@shop.example",
                    "--message", message,
                ])
            #expect(result["ok"] as? Bool == true, "\(result)")
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while mailboxFiles(server).count < before + messages.count {
            guard ContinuousClock.now < deadline else { throw ServerProcessError("not delivered:\n\(server.logText)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func pop3(_ server: ServerProcess, tls: Bool = true, _ arguments: [String] = []) async throws -> [String: Any] {
        let connection =
            tls ? ["--port", "\(server.pop3sPort)", "--implicit-tls"] : ["--port", "\(server.pop3Port)", "--stls"]
        return try await Peer.pop3(
            server: server, connection + ["--user", "alice", "--password", "correct horse"] + arguments)
    }

    func mailboxFiles(_ server: ServerProcess) -> [String] {
        ["new", "cur"].flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: server.spool + "/mailboxes/alice/" + directory))
                ?? [])
                .map { directory + "/" + $0 }
        }.sorted()
    }

    @Test func deliveredMailIsRetrievedByteForByteWithExactSizes() async throws {
        try await withServer(users: Self.users, rules: Self.rules, delivery: true) { server in
            try await deliver(
                server, ["Subject: one\r\n\r\n.a line with a leading dot\r\nbody\r\n", "Subject: two\r\n\r\nx\r\n"])
            let result = try await pop3(server, ["--retr-all"])
            #expect((result["login"] as? String)?.hasPrefix("+OK Logged in, 2 messages") == true, "\(result)")
            #expect(result["tls_version"] as? String == "TLSv1.3")
            let messages = try #require(result["messages"] as? [[String: String]])
            let files = mailboxFiles(server)
            #expect(messages.count == 2 && files.count == 2)
            let list = try #require(result["list"] as? [String])
            var total = 0
            for (index, message) in messages.enumerated() {
                let retrieved = try #require(Data(base64Encoded: message["content"]!))
                let stored = try #require(
                    try files.map {
                        try Data(contentsOf: URL(fileURLWithPath: server.spool + "/mailboxes/alice/" + $0))
                    }
                    .first { $0 == retrieved })
                #expect(message["status"] == "+OK \(stored.count) octets")
                #expect(list[index] == "\(index + 1) \(stored.count)", "LIST counts exactly what RETR sends")
                total += stored.count
            }
            #expect(result["stat"] as? [Int] == [2, total])
            let first = String(decoding: Data(base64Encoded: messages[0]["content"]!)!, as: UTF8.self)
            #expect(first.hasPrefix("Return-Path: <bob@example.org>\r\nDelivered-To: alice@shop.example\r\n"))
            #expect(first.contains("\r\n.a line with a leading dot\r\n"), "dot-stuffing undone by the client")
        }
    }

    @Test func stlsOnThePlainPortAndCapaTellsTheTruth() async throws {
        try await withServer(users: Self.users, rules: Self.rules, delivery: true) { server in
            try await deliver(server, ["Subject: s\r\n\r\nline one\r\nline two\r\n"])
            let result = try await pop3(server, tls: false, ["--top", "1", "1"])
            #expect(
                result["capa_before"] as? [String] == [
                    "AUTH-RESP-CODE", "IMPLEMENTATION", "PIPELINING", "RESP-CODES", "STLS", "TOP", "UIDL",
                ])
            #expect(
                result["capa_after_tls"] as? [String] == [
                    "AUTH-RESP-CODE", "IMPLEMENTATION", "PIPELINING", "RESP-CODES", "SASL", "TOP", "UIDL", "USER",
                ])
            let top = String(decoding: Data(base64Encoded: result["top"] as! String)!, as: UTF8.self)
            #expect(top.hasSuffix("Subject: s\r\n\r\nline one\r\n"), "header, blank line, one body line: \(top)")
        }
    }

    @Test func plaintextLoginIsRefusedBeforeTLS() async throws {
        try await withServer(users: Self.users, rules: Self.rules) { server in
            let client = try RawClient(port: server.pop3Port)
            #expect(try await client.readAnyLine()?.hasPrefix("+OK") == true)
            try await client.send("USER alice\r\n")
            #expect(try await client.readAnyLine()?.hasPrefix("-ERR [AUTH] Plaintext login is not allowed") == true)
            try await client.send("QUIT\r\n")
            #expect(try await client.readAnyLine()?.hasPrefix("+OK") == true)
        }
    }

    @Test func saslPlainAndAWrongPassword() async throws {
        try await withServer(users: Self.users, rules: Self.rules) { server in
            let good = try await pop3(server, ["--sasl"])
            #expect((good["login"] as? String)?.hasPrefix("+OK Logged in, 0 messages") == true, "\(good)")
            let bad = try await Peer.pop3(
                server: server,
                ["--port", "\(server.pop3sPort)", "--implicit-tls", "--user", "alice", "--password", "wrong"])
            #expect(bad["login_error"] as? String == "-ERR [AUTH] Invalid user name or password")
        }
    }

    @Test func deletionsHappenOnlyAtQuit() async throws {
        try await withServer(users: Self.users, rules: Self.rules, delivery: true) { server in
            try await deliver(server, ["Subject: 1\r\n\r\n1\r\n", "Subject: 2\r\n\r\n2\r\n"])
            let dropped = try await pop3(server, ["--dele", "1", "--drop"])
            #expect(dropped["dele"] as? [String] == ["+OK Message 1 deleted"])
            // The server notices the close; then the mailbox is free again and nothing was deleted.
            try await server.waitForLog("maildrop released", timeout: .seconds(30))
            let kept = try await pop3(server, ["--dele", "2"])
            #expect(kept["stat"] as? [Int] == [2, (kept["stat"] as! [Int])[1]])
            #expect((kept["quit"] as? String)?.hasSuffix("(1 message left)") == true, "\(kept)")
            #expect(mailboxFiles(server).count == 1)
            let after = try await pop3(server, ["--retr-all"])
            let remaining = String(
                decoding: Data(base64Encoded: (after["messages"] as! [[String: String]])[0]["content"]!)!, as: UTF8.self
            )
            #expect(remaining.contains("Subject: 1\r\n"))
        }
    }

    @Test func uidlIsStableAcrossSessionsAndOneSessionPerMailbox() async throws {
        try await withServer(users: Self.users, rules: Self.rules, delivery: true) { server in
            try await deliver(server, ["Subject: u\r\n\r\nu\r\n"])
            // The first session stays logged in until the second has had its answer, however slow the machine.
            let release = server.directory.appendingPathComponent("release-holder").path
            async let holder = pop3(server, ["--hold-until", release])
            try await server.waitForLog("maildrop opened", timeout: .seconds(30))
            let second = try await pop3(server)
            #expect(FileManager.default.createFile(atPath: release, contents: nil))
            #expect((second["login_error"] as? String)?.hasPrefix("-ERR [IN-USE]") == true, "\(second)")
            let first = try await holder
            let again = try await pop3(server)
            #expect(first["uidl"] as? [String] == again["uidl"] as? [String])
            #expect((first["uidl"] as? [String])?.first?.hasPrefix("1 ") == true)
        }
    }

    /// Before login the short `login_timeout` applies.
    @Test func aSessionThatDoesNotLogInIsClosed() async throws {
        try await withServer(config: "pop3:\n  login_timeout: 1s\n", users: Self.users, rules: Self.rules) { server in
            let client = try RawClient(port: server.pop3Port)
            #expect(try await client.readAnyLine()?.hasPrefix("+OK") == true)
            #expect(try await client.readAnyLine() == "-ERR Idle too long, closing")
            #expect(try await client.isClosed())
        }
    }

    @Test func aStopTellsOpenSessionsAndExits() async throws {
        try await withServer(users: Self.users, rules: Self.rules) { server in
            let client = try RawClient(port: server.pop3Port)
            #expect(try await client.readAnyLine()?.hasPrefix("+OK") == true)
            let started = ContinuousClock.now
            #expect(await server.stop() == 0)
            #expect(ContinuousClock.now - started < .seconds(5), "an idle POP3 session does not hold up the stop")
            #expect(try await client.readAnyLine() == "-ERR [SYS/TEMP] Server shutting down; reconnect later")
            #expect(try await client.isClosed())
        }
    }

    @Test func overlongCommandsAreRefused() async throws {
        try await withServer(users: Self.users, rules: Self.rules) { server in
            let client = try RawClient(port: server.pop3Port)
            _ = try await client.readAnyLine()
            try await client.send("NOOP " + String(repeating: "x", count: 5000) + "\r\nQUIT\r\n")
            #expect(try await client.readAnyLine() == "-ERR Line too long")
            #expect(try await client.readAnyLine()?.hasPrefix("+OK") == true)
        }
    }
}

/// fetchmail (Debian's package), a second real POP3 client: it logs in over implicit TLS checking our
/// certificate, fetches with TOP, deletes, and quits.
@Suite struct FetchmailTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/fetchmail")))
    func fetchmailFetchesEverythingAndLeavesTheMailboxEmpty() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules, delivery: true) { server in
            let messages = (1...3).map { "Subject: fetch \($0)\r\n\r\n.leading dot\r\nbody \($0)\r\n" }
            try await POP3EndToEndTests().deliver(server, messages)
            let stored = try POP3EndToEndTests().mailboxFiles(server).map {
                String(
                    decoding: try Data(contentsOf: URL(fileURLWithPath: server.spool + "/mailboxes/alice/" + $0)),
                    as: UTF8.self)
            }
            let out = server.directory.appendingPathComponent("fetched")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            let rc = server.directory.appendingPathComponent("fetchmailrc")
            try """
            poll 127.0.0.1 with proto POP3 port \(server.pop3sPort) timeout 20
              user "alice" there with password "correct horse" is "alice" here
              ssl sslcertck sslcertfile "\(server.spool)/tls/cert.pem" sslcommonname "mx.test"
              nokeep
              mda "/bin/sh -c 'cat > \(out.path)/msg.$$'"

            """.write(to: rc, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: rc.path)
            let finished = try await runToEnd(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["HOME=\(server.directory.path)", "fetchmail", "-f", rc.path, "--nosyslog", "--invisible", "-v"],
                separateErrors: false)
            let transcript = String(decoding: finished.output, as: UTF8.self)
            #expect(finished.status == 0, "\(transcript)")
            let fetched = try FileManager.default.contentsOfDirectory(atPath: out.path).map {
                String(decoding: try Data(contentsOf: out.appendingPathComponent($0)), as: UTF8.self)
            }
            // fetchmail hands its MDA LF line ends.
            #expect(
                Set(fetched) == Set(stored.map { $0.replacingOccurrences(of: "\r\n", with: "\n") }), "\(transcript)")
            #expect(POP3EndToEndTests().mailboxFiles(server).isEmpty, "fetched messages are deleted at QUIT")
        }
    }
}
