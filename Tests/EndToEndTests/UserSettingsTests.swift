import Foundation
import Testing

/// The users file's per-user settings, with real clients: `mailbox=` chooses what POP3 reads, `send_as=`
/// limits the envelope senders over SMTP AUTH. Edited while the server runs, as an operator would.
@Suite struct UserSettingsTests {
    /// Appends settings to a user's line in rules/users.
    func set(_ settings: String, for user: String, in server: ServerProcess) throws {
        let path = server.rules + "/users"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let edited = text.split(separator: "\n").map { $0.hasPrefix(user + ":") ? $0 + ":" + settings : $0 }
        try (edited.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func sendAsLimitsTheSenderAndMailboxChoosesWhatPOP3Reads() async throws {
        try await withServer(users: ["carol": "carol pw"], rules: POP3EndToEndTests.rules, delivery: true) { server in
            try set("mailbox=alice:send_as=carol@example.org,*@shop.example", for: "carol", in: server)
            func send(from sender: String) async throws -> [String: Any] {
                try await Peer.run(
                    "send", server: server,
                    [
                        "--port", "\(server.smtpsPort)", "--implicit-tls", "--user", "carol", "--password", "carol pw",
                        "--from", sender, "--to", "alice@shop.example",
                    ])
            }
            let refused = try await send(from: "mallory@example.net")
            #expect(refused["code"] as? Int == 553, "\(refused)")
            #expect((refused["text"] as? String)?.contains("not allowed for user carol") == true)
            #expect(try await send(from: "carol@example.org")["ok"] as? Bool == true)
            #expect(try await send(from: "sales@shop.example")["ok"] as? Bool == true)

            let deadline = ContinuousClock.now + .seconds(20)
            while POP3EndToEndTests().mailboxFiles(server).count < 2 {
                guard ContinuousClock.now < deadline else {
                    throw ServerProcessError("not delivered:\n\(server.logText)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let read = try await Peer.pop3(
                server: server,
                ["--port", "\(server.pop3sPort)", "--implicit-tls", "--user", "carol", "--password", "carol pw"])
            #expect(
                read["stat"] as? [Int] != nil && (read["stat"] as! [Int])[0] == 2,
                "carol reads alice's mailbox: \(read)")
        }
    }
}
