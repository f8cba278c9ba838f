import Foundation
import Testing

/// The operator tools, run as the built executable.
@Suite struct CommandLineTests {
    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relaygate-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("rules"), withIntermediateDirectories: true)
        return directory
    }

    @Test func checkAcceptsDefaultsAndNamesTheProblemInABadFile() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try await ServerProcess.run(["check"], directory: directory)
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("configuration OK (embedded defaults)"))
        #expect(
            good.output.contains(
                "SMTP 0.0.0.0:25, [::]:25, 0.0.0.0:2525, [::]:2525, 0.0.0.0:465 (TLS), [::]:465 (TLS); "
                    + "POP3 0.0.0.0:110, [::]:110, 0.0.0.0:995 (TLS), [::]:995 (TLS)"))

        try "smtp:\n  max_recipients: 10\n  relay_network: [10.0.0.0/8]\n".write(
            to: directory.appendingPathComponent("rules/relaygate.yaml"), atomically: true, encoding: .utf8)
        let bad = try await ServerProcess.run(["check"], directory: directory)
        #expect(bad.status != 0)
        #expect(bad.output.contains("rules/relaygate.yaml:3: smtp.relay_network: unknown key"), "\(bad.output)")

        let serve = try await ServerProcess.run(["serve", "--smtp", "127.0.0.1:0"], directory: directory)
        #expect(serve.status != 0, "serve refuses a bad configuration too")
        #expect(serve.output.contains("rules/relaygate.yaml:3"))
    }

    @Test func checkFindsBadTLSFilesAndUsers() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "alice:not-a-hash\n".write(
            to: directory.appendingPathComponent("rules/users"), atomically: true, encoding: .utf8)
        let result = try await ServerProcess.run(["check"], directory: directory)
        #expect(result.status != 0)
        #expect(result.output.contains("rules/users:1: user alice: not a crypt(3) hash"), "\(result.output)")
        let tls = try await ServerProcess.run(
            [
                "serve", "--smtp", "127.0.0.1:0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key",
                "/nonexistent/key.pem",
            ],
            directory: directory)
        #expect(tls.status != 0)
        #expect(tls.output.contains("the TLS certificate /nonexistent/cert.pem does not exist"), "\(tls.output)")
    }

    /// A --rules directory that is not there is a typo to fix, not an empty rule set.
    @Test func aMissingRulesDirectoryIsAnError() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for arguments in [["check"], ["serve", "--smtp", "127.0.0.1:0"]] {
            let result = try await ServerProcess.run(arguments + ["--rules", "/nonexistent/rules"], directory: directory)
            #expect(result.status == 1, "\(arguments): \(result.output)")
            #expect(
                result.output.contains("the rules directory /nonexistent/rules (--rules) does not exist"),
                "\(arguments): \(result.output)")
        }
    }

    @Test func aRuleSetWithoutDomainsIsWarnedAbout() async throws {
        try await withServer { server in
            #expect(server.logText.contains("name no domain of ours: mail to any address is refused"), "\(server.logText)")
        }
    }

    @Test func anUpstreamPasswordFileThatIsMissingOrEmptyIsNamed() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let empty = directory.appendingPathComponent("empty.password")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        for (file, problem) in [("/nonexistent/provider.password", "does not exist"), (empty.path, "is empty")] {
            try """
            upstreams:
              provider:
                hosts: ["127.0.0.1:2525"]
                username: me
                password_file: \(file)

            """.write(to: directory.appendingPathComponent("rules/relaygate.yaml"), atomically: true, encoding: .utf8)
            let check = try await ServerProcess.run(["check"], directory: directory)
            #expect(check.status == 1)
            #expect(check.output.contains("upstreams.provider.password_file: \(file) \(problem)"), "\(check.output)")
        }
    }

    @Test func serveExplainsAPortItCannotBind() async throws {
        try await withServer { server in
            let clash = try await ServerProcess.run(
                [
                    "serve", "--rules", server.rules, "--spool", server.spool + "-2", "--smtp",
                    "127.0.0.1:\(server.smtpPort)",
                ],
                directory: server.directory)
            #expect(clash.status != 0)
            #expect(clash.output.contains("cannot listen on 127.0.0.1:\(server.smtpPort)"), "\(clash.output)")
            #expect(clash.output.contains("in use"))
        }
    }

    @Test func usersAddListRemove() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let added = try await ServerProcess.run(["users", "add", "alice"], input: "correct horse\n", directory: directory)
        #expect(added.status == 0, "\(added.output)")
        #expect(added.output.contains("added alice in rules/users"))
        let file = try String(contentsOf: directory.appendingPathComponent("rules/users"), encoding: .utf8)
        #expect(file.hasPrefix("alice:$y$"))
        #expect(!file.contains("correct horse"))
        let again = try await ServerProcess.run(["users", "add", "alice"], input: "new\n", directory: directory)
        #expect(again.output.contains("set the password of alice"))
        _ = try await ServerProcess.run(["users", "add", "bob"], input: "x\n", directory: directory)
        #expect(try await ServerProcess.run(["users", "list"], directory: directory).output == "alice\nbob\n")
        #expect(try await ServerProcess.run(["users", "remove", "alice"], directory: directory).status == 0)
        #expect(try await ServerProcess.run(["users", "list"], directory: directory).output == "bob\n")
        #expect(try await ServerProcess.run(["users", "remove", "alice"], directory: directory).status != 0)
        #expect(try await ServerProcess.run(["users", "add", "bad:name"], input: "x\n", directory: directory).status != 0)
        #expect(try await ServerProcess.run(["users", "add", "carol"], input: "", directory: directory).status != 0)
    }

    @Test func usersAddSetsTheMailboxAndWhoTheUserMaySendAs() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let users = directory.appendingPathComponent("rules/users")
        let added = try await ServerProcess.run(
            ["users", "add", "app1", "--mailbox", "sales", "--send-as", "app@example.org,*@shop.example"],
            input: "pw\n", directory: directory)
        #expect(added.status == 0, "\(added.output)")
        var line = try String(contentsOf: users, encoding: .utf8)
        #expect(line.hasPrefix("app1:$y$") && line.hasSuffix(":mailbox=sales:send_as=app@example.org,*@shop.example\n"), "\(line)")
        // A new password keeps the settings; an empty --send-as lifts the limit.
        _ = try await ServerProcess.run(["users", "add", "app1", "--send-as", ""], input: "pw2\n", directory: directory)
        line = try String(contentsOf: users, encoding: .utf8)
        #expect(line.hasSuffix(":mailbox=sales\n"), "\(line)")
        // A bad setting is refused before the password is asked for, and nothing is written.
        let bad = try await ServerProcess.run(
            ["users", "add", "app2", "--send-as", "not an address"], input: "pw\n", directory: directory)
        #expect(bad.status == 64 && bad.output.contains("send_as: not an address is not an address"), "\(bad.output)")
        #expect(!(try String(contentsOf: users, encoding: .utf8)).contains("app2"))
        // A colon separates the file's fields: an address holding one cannot be stored.
        let colon = try await ServerProcess.run(
            ["users", "add", "app3", "--send-as", "a@[IPv6:2001:db8::1]"], input: "pw\n", directory: directory)
        #expect(colon.status == 64 && colon.output.contains("a colon or line break cannot be stored"), "\(colon.output)")
        let help = try await ServerProcess.run(["users", "add", "--help"], directory: directory)
        let words = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("may use any envelope sender"), "\(help.output)")
    }

    @Test func versionAndTheTwoKindsOfError() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let version = try await ServerProcess.run(["--version"], directory: directory)
        #expect(version.status == 0 && version.output.split(separator: ".").count == 3, "\(version.output)")
        // A mistake in the command line: the usage hint and 64 (EX_USAGE).
        let usage = try await ServerProcess.run(["serve", "--smtp", "bogus"], directory: directory)
        #expect(usage.status == 64 && usage.output.contains("Usage:"), "\(usage.output)")
        // A failure while running: one line, status 1, no usage.
        for arguments in [["check", "--config", "/nonexistent.yaml"], ["queue", "list", "--spool", "/nonexistent"]] {
            let runtime = try await ServerProcess.run(arguments, directory: directory)
            #expect(runtime.status == 1 && !runtime.output.contains("Usage"), "\(arguments): \(runtime.output)")
        }
    }

    @Test func queueListAndShowReadTheSpool() async throws {
        try await withServer { server in
            let client = try RawClient(port: server.smtpPort)
            _ = try await client.readReply()
            try await client.send(
                "EHLO c\r\nMAIL FROM:<alice@example.org> RET=HDRS\r\nRCPT TO:<bob@example.net> NOTIFY=NEVER\r\nDATA\r\n"
            )
            for _ in 0..<4 { _ = try await client.readReply() }
            try await client.send("Subject: q\r\n\r\nx\r\n.\r\n")
            let reply = try #require(try await client.readReply()?.first)
            let id = String(reply.split(separator: " ").last!)

            let list = try await ServerProcess.run(["queue", "list", "--rules", server.rules, "--spool", server.spool])
            #expect(list.status == 0)
            #expect(list.output.contains("\(id)  incoming"))
            #expect(list.output.contains("<alice@example.org>  bob@example.net (pending)"))
            #expect(list.output.contains("1 message, 1 recipient pending"))

            let show = try await ServerProcess.run(["queue", "show", id, "--rules", server.rules, "--spool", server.spool])
            #expect(show.output.contains("sender: <alice@example.org>"))
            #expect(show.output.contains("bob@example.net pending NOTIFY=NEVER"))
            #expect(show.output.contains("parameters: RET=HDRS"))

            let missing = try await ServerProcess.run(["queue", "show", "0000000000000000", "--spool", server.spool])
            #expect(missing.status != 0)
            let bogus = try await ServerProcess.run(["queue", "show", "../../etc/passwd", "--spool", server.spool])
            #expect(bogus.status != 0)
            #expect(bogus.output.contains("is not a queue ID"))
        }
    }

    /// swaks, a real client from Debian (installed by .ci/run), with pipelining and STARTTLS.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/swaks")))
    func swaksWithPipeliningAndSTARTTLS() async throws {
        try await withServer { server in
            let swaks = try await runToEnd(
                URL(fileURLWithPath: "/usr/bin/swaks"),
                [
                    "--server", "127.0.0.1", "--port", "\(server.smtpPort)", "--from", "alice@example.org",
                    "--to", "bob@example.net,carol@example.net", "--pipeline", "--tls", "--helo", "swaks.test",
                    "--header", "Subject: from swaks",
                ])
            let text = String(decoding: swaks.output, as: UTF8.self)
            #expect(swaks.status == 0, "\(text)")
            #expect(text.contains("250 2.0.0 Ok: queued as"))
            try await server.waitForLog("nrcpt=2")
        }
    }
}

extension CommandLineTests {
    /// On a terminal the password is asked twice and never echoed.
    @Test func usersAddOnATerminalDoesNotEcho() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = try await runToEnd(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3",
                ServerProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Peers/tty_password.py").path,
                ServerProcess.executable.path, "alice", "typed-secret", directory.path,
            ]
        ).output
        let result = try #require(
            try? JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
        let shown = try #require(result["shown"] as? String)
        #expect(result["status"] as? Int == 0, "\(shown)")
        #expect(shown.contains("Password for alice: "))
        #expect(shown.contains("Again: "))
        #expect(!shown.contains("typed-secret"), "the password was echoed: \(shown)")
        let users = try String(contentsOf: directory.appendingPathComponent("rules/users"), encoding: .utf8)
        #expect(users.hasPrefix("alice:$y$"))
    }
}
