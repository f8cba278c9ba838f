import Foundation
import Testing

/// IMAP against Python's imaplib: mail delivered by SMTP through a `mailbox:` rule is read back byte for
/// byte, flags carry across sessions, and folders are managed, over implicit TLS (993) and STARTTLS (143).
@Suite struct IMAPEndToEndTests {
    let pop3 = POP3EndToEndTests()

    func imap(_ server: ServerProcess, tls: Bool = true, _ operations: [[String]]) async throws -> [String: Any] {
        let connection =
            tls ? ["--port", "\(server.imapsPort)", "--implicit-tls"] : ["--port", "\(server.imapPort)", "--starttls"]
        return try await Peer.imap(
            server: server, connection + ["--user", "alice", "--password", "correct horse"], operations: operations)
    }

    /// An operation's [typ, data].
    func op(_ result: [String: Any], _ index: Int) -> (String, [Any]) {
        let ops = result["ops"] as? [[Any]] ?? []
        guard index < ops.count else { return ("missing", []) }
        return (ops[index][0] as? String ?? "?", ops[index].count > 1 ? ops[index][1] as? [Any] ?? [ops[index][1]] : [])
    }

    @Test func deliveredMailIsReadByteForByteAndSeenCarriesAcrossSessions() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules, delivery: true) { server in
            try await pop3.deliver(server, ["Subject: one\r\n\r\n.dot line\r\nbody\r\n", "Subject: two\r\n\r\nx\r\n"])
            let first = try await imap(
                server,
                [
                    ["select", "INBOX"], ["fetch", "1", "(RFC822.SIZE BODY.PEEK[])"], ["fetch", "2", "(BODY[])"],
                    ["search", "", "UNSEEN"],
                ])
            #expect(op(first, 0).0 == "OK" && op(first, 0).1.first as? String == "2", "\(first)")
            let fetched = try #require(op(first, 1).1.first as? [String])
            let stored = try pop3.mailboxFiles(server).map {
                String(
                    decoding: try Data(contentsOf: URL(fileURLWithPath: server.spool + "/mailboxes/alice/" + $0)),
                    as: UTF8.self)
            }
            #expect(stored.contains(fetched[1]), "BODY[] is the stored octets exactly")
            #expect(fetched[0].contains("RFC822.SIZE \(fetched[1].utf8.count) "), "\(fetched[0])")
            #expect((op(first, 2).1.last as? String)?.contains("\\Seen") == true, "BODY[] sets \\Seen and says so")
            #expect(op(first, 3).1.first as? String == "1", "only the first is unseen now")

            let second = try await imap(server, [["select", "INBOX", "True"], ["fetch", "1:*", "(UID FLAGS)"]])
            let flags = op(second, 1).1.compactMap { $0 as? String }
            #expect(flags.count == 2 && !flags[0].contains("\\Seen") && flags[1].contains("\\Seen"), "\(flags)")
            #expect(!flags.joined().contains("\\Recent"), "the first session took \\Recent")
        }
    }

    @Test func deletedMessagesLeaveAtExpunge() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules, delivery: true) { server in
            try await pop3.deliver(server, ["Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n"])
            let result = try await imap(
                server,
                [["select", "INBOX"], ["store", "1", "+FLAGS", "(\\Deleted)"], ["expunge"], ["search", "", "ALL"]])
            #expect(op(result, 2).1.first as? String == "1", "\(result)")
            #expect(op(result, 3).1.first as? String == "1")
            #expect(pop3.mailboxFiles(server).count == 1)
        }
    }

    @Test func startTLSAndLoginDisabledBeforeIt() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let result = try await imap(server, tls: false, [["select", "INBOX"]])
            let before = result["capabilities"] as? [String] ?? []
            #expect(before.contains("STARTTLS") && before.contains("LOGINDISABLED") && !before.contains("AUTH=PLAIN"))
            let after = result["capabilities_after_tls"] as? [String] ?? []
            #expect(after.contains("AUTH=PLAIN") && !after.contains("STARTTLS"), "\(after)")
            #expect(op(result, 0).0 == "OK")
            let client = try RawClient(port: server.imapPort)
            _ = try await client.readAnyLine()
            try await client.send("a LOGIN alice \"correct horse\"\r\n")
            #expect(try await client.readAnyLine()?.hasPrefix("a NO [PRIVACYREQUIRED]") == true)
        }
    }

    @Test func foldersAreCreatedListedRenamedAndDeleted() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let result = try await imap(
                server,
                [
                    ["create", "Work"], ["create", "Work.2024"], ["list", "\"\"", "*"], ["rename", "Work", "Jobs"],
                    ["status", "Jobs.2024", "(MESSAGES UIDNEXT)"], ["delete", "Jobs.2024"], ["create", "../escape"],
                    ["select", "Nope"],
                ])
            #expect(op(result, 0).0 == "OK" && op(result, 1).0 == "OK", "\(result)")
            let listed = op(result, 2).1.compactMap { $0 as? String }
            #expect(
                listed == [
                    "(\\HasNoChildren) \".\" \"INBOX\"", "(\\HasChildren) \".\" \"Work\"",
                    "(\\HasNoChildren) \".\" \"Work.2024\"",
                ])
            #expect(op(result, 3).0 == "OK")
            #expect(op(result, 4).1.first as? String == "\"Jobs.2024\" (MESSAGES 0 UIDNEXT 1)")
            #expect(op(result, 5).0 == "OK")
            #expect(op(result, 6).0 == "NO", "a name that would leave the mailbox is refused")
            #expect(op(result, 7).0 == "NO")
            #expect(!FileManager.default.fileExists(atPath: server.spool + "/mailboxes/escape"))
        }
    }

    @Test func aWrongPasswordIsRefused() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let result = try await Peer.imap(
                server: server,
                ["--port", "\(server.imapsPort)", "--implicit-tls", "--user", "alice", "--password", "wrong"])
            #expect((result["login_error"] as? String)?.contains("AUTHENTICATIONFAILED") == true, "\(result)")
        }
    }

    /// Before login the short `login_timeout` applies, and only whole commands restart it: a client that
    /// trickles a command an octet at a time, never ending it, is logged out all the same.
    @Test func aSessionThatDoesNotLogInIsLoggedOut() async throws {
        try await withServer(
            config: "imap:\n  login_timeout: 1s\n", users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules
        ) {
            server in
            let idle = try RawClient(port: server.imapPort)
            #expect(try await idle.readAnyLine()?.hasPrefix("* OK [CAPABILITY") == true)
            let started = ContinuousClock.now
            let trickle = Task {
                for octet in "a NOOP and on and on".utf8 {
                    try? await idle.send([octet])
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(try await idle.readAnyLine() == "* BYE Autologout: idle for too long")
            #expect(ContinuousClock.now - started < .seconds(3), "the trickle did not keep it alive")
            #expect(try await idle.isClosed())
            trickle.cancel()
        }
    }

    /// Before login a LITERAL+ announcement of 1 MiB is refused at once, before any of it is read: the
    /// connection ends, since its octets are already on the way.
    @Test func aLargeLiteralBeforeLoginIsRefusedUnread() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let client = try RawClient(port: server.imapPort)
            _ = try await client.readAnyLine()
            try await client.send("a LOGIN {1048576+}\r\n")
            #expect(try await client.readAnyLine() == "* BYE Literal too large")
            #expect(try await client.isClosed())
        }
    }

    /// On its own server, with the default idle timeout: on a loaded machine a stop can take longer than the
    /// one-second timeout above, and the session would be logged out for idling first.
    @Test func aStopSaysBye() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let open = try RawClient(port: server.imapPort)
            _ = try await open.readAnyLine()
            #expect(await server.stop() == 0)
            #expect(try await open.readAnyLine() == "* BYE Server shutting down; reconnect later", "\(server.logText)")
        }
    }
}

@Suite struct IMAPMoreEndToEndTests {
    let pop3 = POP3EndToEndTests()
    let e2e = IMAPEndToEndTests()

    @Test func appendCopyAndMoveReportTheirUIDs() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let result = try await e2e.imap(
                server,
                [
                    ["create", "Archive"],
                    [
                        "append", "INBOX", "(\\Seen)", "\"17-Jul-1996 02:44:25 -0700\"",
                        "Subject: a\r\n\r\nappended\r\n",
                    ],
                    ["select", "INBOX"], ["copy", "1", "Archive"], ["uid", "MOVE", "1", "Archive"],
                    ["select", "Archive"],
                    ["fetch", "1:*", "(UID FLAGS INTERNALDATE)"], ["copy", "1", "Nowhere"],
                ])
            #expect((e2e.op(result, 1).1.first as? String)?.hasPrefix("[APPENDUID ") == true, "\(result)")
            #expect((e2e.op(result, 3).1.first as? String)?.contains(" 1 1] COPY completed") == true)
            #expect(e2e.op(result, 4).0 == "OK")
            #expect(e2e.op(result, 5).1.first as? String == "2", "the copy and the moved original")
            let fetched = e2e.op(result, 6).1.compactMap { $0 as? String }
            #expect(
                fetched.count == 2
                    && fetched.allSatisfy { $0.contains("\\Seen") && $0.contains("17-Jul-1996 09:44:25 +0000") },
                "\(fetched)")
            #expect((e2e.op(result, 7).1.first as? String)?.hasPrefix("[TRYCREATE]") == true)
        }
    }

    /// What IMAPClient's live tests and imaptest found, through imaplib: a message appended to the selected
    /// folder can be fetched at once (its EXISTS came before the OK); keywords are kept, in Dovecot's
    /// format; UID STORE answers with the UID; CREATE ignores a trailing delimiter; SUBSCRIBE wants a folder
    /// that exists.
    @Test func ownChangesKeywordsAndFolderNamesAsRealClientsUseThem() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let result = try await e2e.imap(
                server,
                [
                    ["select", "INBOX"],
                    ["append", "INBOX", "(\\Seen $Junk)", "", "Subject: a\r\n\r\nappended\r\n"],
                    ["fetch", "1", "(FLAGS)"],
                    ["uid", "STORE", "1", "+FLAGS", "($label1 \\Answered)"],
                    ["create", "Work."], ["subscribe", "Nowhere"], ["create", "\"back\\\\slash\""],
                ])
            #expect(e2e.op(result, 1).0 == "OK", "\(result)")
            #expect(
                (e2e.op(result, 2).1.first as? String)?.contains("FLAGS (\\Seen $Junk \\Recent)") == true, "\(result)")
            #expect(
                (e2e.op(result, 3).1.first as? String)?.contains(
                    "UID 1 FLAGS (\\Answered \\Seen $Junk $label1 \\Recent)") == true, "\(result)")
            #expect(e2e.op(result, 4).0 == "OK", "a trailing delimiter is ignored: \(result)")
            #expect(e2e.op(result, 5).0 == "NO" && "\(e2e.op(result, 5).1)".contains("NONEXISTENT"), "\(result)")
            #expect(e2e.op(result, 6).0 == "OK", "\(result)")
            let inbox = server.spool + "/mailboxes/alice"
            let keywords = try String(contentsOfFile: inbox + "/dovecot-keywords", encoding: .utf8)
            #expect(keywords == "0 $Junk\n1 $label1\n")
            let files = try FileManager.default.contentsOfDirectory(atPath: inbox + "/cur")
            #expect(files.count == 1 && files[0].hasSuffix(":2,RSab"), "\(files)")
            #expect(FileManager.default.fileExists(atPath: inbox + "/.Work/cur"))
            #expect(FileManager.default.fileExists(atPath: inbox + "/.back\\slash/cur"))
        }
    }

    /// A LIST pattern that made a backtracking matcher take 10 s against a 120-character folder name is
    /// answered at once, and another session's NOOP meanwhile too.
    @Test func aPathologicalListPatternHoldsNobodyUp() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules) { server in
            let started = ContinuousClock.now
            async let listing = e2e.imap(
                server,
                [["create", String(repeating: "a", count: 120)], ["list", "\"\"", "*a*a*a*a*a*a*a*a*a*a*aX"]])
            async let other = e2e.imap(server, [["noop"]])
            let (listed, noop) = try await (listing, other)
            #expect(e2e.op(listed, 1).0 == "OK", "\(listed)")
            #expect(e2e.op(noop, 0).0 == "OK", "\(noop)")
            // Generous for a loaded machine: the backtracking matcher this replaced would not finish at all.
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }

    /// An APPEND of 40 MB goes to disk as it arrives: the server's peak memory grows by far less than the
    /// message (it used to hold the literal whole, and a client could hold several).
    @Test func aLargeAppendIsNotHeldInMemory() async throws {
        try await withServer(
            config: "smtp:\n  max_message_size: 64M\n", users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules
        ) { server in
            func peak() -> Int {
                let status =
                    (try? String(contentsOfFile: "/proc/\(server.process.processIdentifier)/status", encoding: .utf8))
                    ?? ""
                let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
                return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
            _ = try await e2e.imap(server, [["noop"]])  // the first login's own allocations come before
            let before = peak()
            let result = try await e2e.imap(
                server, [["append", "INBOX", "", "", "@lines:40000"], ["select", "INBOX"]])
            #expect(e2e.op(result, 0).0 == "OK", "\(result["ops"] ?? result)")
            #expect(e2e.op(result, 1).1.first as? String == "1")
            let grown = peak() - before
            print("a 40 MB APPEND: the server's peak RSS grew \(grown) KiB")
            #expect(grown < 16 * 1024, "peak RSS grew \(grown) KiB for a 40 MB message")
        }
    }

    @Test func mailDeliveredWhileAClientIdlesIsPushed() async throws {
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules, delivery: true) { server in
            let ready = server.directory.appendingPathComponent("idling").path
            async let idler = Peer.imap(
                server: server,
                [
                    "--port", "\(server.imapsPort)", "--implicit-tls", "--user", "alice", "--password", "correct horse",
                    "--idle-until-exists", ready,
                ],
                operations: [["select", "INBOX"]])
            let deadline = ContinuousClock.now + .seconds(30)
            while !FileManager.default.fileExists(atPath: ready) {
                guard ContinuousClock.now < deadline else { throw ServerProcessError("the client never idled") }
                try await Task.sleep(for: .milliseconds(20))
            }
            let sent = ContinuousClock.now
            try await pop3.deliver(server, ["Subject: pushed\r\n\r\nnew mail\r\n"])
            let result = try await idler
            #expect(result["idle_start"] as? String == "+ idling")
            let pushed = result["idle_pushed"] as? [String] ?? []
            #expect(pushed.contains("* 1 EXISTS"), "\(pushed)")
            #expect(pushed.last?.hasSuffix("OK IDLE terminated") == true)
            #expect(ContinuousClock.now - sent < .seconds(15), "pushed within a few seconds")
        }
    }
}

/// mbsync (Debian's isync), a second real IMAP client: it logs in over 993 checking our certificate, pulls
/// the INBOX into a local Maildir with UID FETCH, then pushes a message written locally back (APPEND with
/// UIDPLUS).
@Suite struct MbsyncTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/mbsync")))
    func mbsyncPullsAndPushes() async throws {
        let pop3 = POP3EndToEndTests()
        try await withServer(users: POP3EndToEndTests.users, rules: POP3EndToEndTests.rules, delivery: true) { server in
            try await pop3.deliver(server, ["Subject: one\r\n\r\n.dot\r\nbody\r\n", "Subject: two\r\n\r\nx\r\n"])
            let local = server.directory.appendingPathComponent("local").path
            let rc = server.directory.appendingPathComponent("mbsyncrc")
            try """
            IMAPAccount relaygate
            Host 127.0.0.1
            Port \(server.imapsPort)
            User alice
            Pass "correct horse"
            SSLType IMAPS
            CertificateFile \(server.spool)/tls/cert.pem

            IMAPStore remote
            Account relaygate

            MaildirStore local
            Path \(local)/
            Inbox \(local)/INBOX

            Channel sync
            Far :remote:
            Near :local:
            Patterns INBOX
            Create Both
            SyncState *

            """.write(to: rc, atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
            func sync() async throws -> String {
                let finished = try await runToEnd(
                    URL(fileURLWithPath: "/usr/bin/mbsync"), ["-c", rc.path, "-V", "sync"], separateErrors: false)
                let transcript = String(decoding: finished.output, as: UTF8.self)
                #expect(finished.status == 0, "\(transcript)")
                return transcript
            }
            _ = try await sync()
            func files(_ root: String) throws -> [String] {
                try ["new", "cur"].flatMap { directory in
                    try FileManager.default.contentsOfDirectory(atPath: root + "/" + directory).map {
                        String(
                            decoding: try Data(contentsOf: URL(fileURLWithPath: root + "/" + directory + "/" + $0)),
                            as: UTF8.self)
                    }
                }
            }
            let remote = try files(server.spool + "/mailboxes/alice")
            let pulled = try files(local + "/INBOX")
            // mbsync keeps LF line ends locally and adds its own X-TUID field; otherwise the octets are ours.
            let normalized = pulled.map {
                $0.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("X-TUID: ") }
                    .joined(separator: "\n")
            }
            #expect(Set(normalized) == Set(remote.map { $0.replacingOccurrences(of: "\r\n", with: "\n") }))

            let written = "Subject: from the laptop\r\n\r\nhello\r\n"
            try written.write(toFile: local + "/INBOX/new/1.local.laptop", atomically: true, encoding: .utf8)
            _ = try await sync()
            let after = try files(server.spool + "/mailboxes/alice")
            #expect(after.count == 3)
            #expect(
                after.contains { $0.hasPrefix("Subject: from the laptop\r\n") && $0.hasSuffix("\r\n\r\nhello\r\n") },
                "pushed with APPEND: \(after)")
        }
    }
}
