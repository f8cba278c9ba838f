import Foundation
import Mailbox
import Testing

@Suite struct UsersFileTests {
    let sha = "$5$relaygatesalt$y2KGkwxB7ONE1iXD804IhR984Ktu3N5GMr.iMBd94x9"

    @Test func parsesNamesHashesCommentsAndExtraFields() throws {
        let file = try UsersFile(path: "users", text: "# users\n\nalice:\(sha)\nbob:\(sha):mailbox=bob\n")
        #expect(file.entries.map(\.name) == ["alice", "bob"])
        #expect(file.hash(for: "bob") == sha)
        #expect(file.hash(for: "carol") == nil)
    }

    @Test(arguments: [
        ("alice", "expected name:hash"),
        ("alice:plaintext", "not a crypt(3) hash"),
        ("al ice:$5$x$y", "bad user name"),
        (":$5$x$y", "bad user name"),
    ])
    func namesTheLineOfAnError(_ line: String, _ message: String) {
        #expect {
            _ = try UsersFile(path: "rules/users", text: "# first\n\(line)\n")
        } throws: { error in
            let parseError = error as? UsersFile.ParseError
            return parseError?.line == 2 && parseError?.path == "rules/users"
                && parseError?.message.contains(message) == true
        }
    }

    @Test func refusesDuplicates() {
        #expect(throws: UsersFile.ParseError.self) {
            try UsersFile(path: "users", text: "a:\(sha)\na:\(sha)\n")
        }
    }

    @Test func setAndRemoveKeepComments() throws {
        var file = try UsersFile(path: "users", text: "# keep me\nalice:\(sha)\nbob:\(sha)\n")
        file.set("carol", hash: sha)
        file.set("alice", hash: "$6$x$y")
        let removedBob = file.remove("bob")
        let removedNobody = file.remove("nobody")
        #expect(removedBob)
        #expect(!removedNobody)
        #expect(file.text == "# keep me\nalice:$6$x$y\ncarol:\(sha)\n")
        file.set("dave", hash: sha)
        #expect(file.entries.map(\.line) == [2, 3, 4])
    }

    @Test func savesAtomicallyWithPrivateMode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("users-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var file = try UsersFile.load(path: directory + "/users")
        #expect(file.entries.isEmpty)
        file.set("alice", hash: sha)
        try file.save()
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/users")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try UsersFile.load(path: directory + "/users").hash(for: "alice") == sha)
    }

    @Test func verifierReloadsWhenTheFileChanges() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("users-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/users"
        let verifier = try PasswordVerifier(path: path)
        #expect(!verifier.hasUsers)
        #expect(verifier.verify(username: "alice", password: "secret") == .rejected)
        var file = try UsersFile.load(path: path)
        file.set("alice", hash: sha)
        try file.save()
        // Make sure the modification time differs from the (missing) file's.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 10)], ofItemAtPath: path)
        #expect(verifier.verify(username: "alice", password: "secret") == .accepted)
        #expect(verifier.verify(username: "alice", password: "wrong") == .rejected)
        #expect(verifier.verify(username: "bob", password: "secret") == .rejected)
    }

    /// What sessions ask on the event loop comes from the cached copy, without a look at the file; the
    /// copy follows the file when `refresh` (off the event loop) says so, and keeps serving when the file
    /// stops parsing.
    @Test func entriesComeFromTheCachedCopyUntilARefresh() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("users-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/users"
        var file = try UsersFile.load(path: path)
        file.set("alice", hash: sha)
        try file.save()
        let verifier = try PasswordVerifier(path: path)
        try "alice:\(sha):mailbox=sales\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(verifier.entry(for: "alice")?.mailbox == nil, "no file access: the cached copy answers")
        try verifier.refresh()
        #expect(verifier.entry(for: "alice")?.mailbox == "sales")
        try "alice:not-a-hash\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try verifier.refresh() }
        #expect(verifier.entry(for: "alice")?.mailbox == "sales", "the last good copy keeps serving")
    }
}

@Suite struct UsersFileSettingsTests {
    let sha = "$5$relaygatesalt$y2KGkwxB7ONE1iXD804IhR984Ktu3N5GMr.iMBd94x9"

    @Test func mailboxAndSendAs() throws {
        let file = try UsersFile(
            path: "users",
            text: "alice:\(sha)\nbob:\(sha):mailbox=sales:send_as=Bob@Example.org,*@shop.example\nc@d.example:\(sha)\n")
        #expect(file.entry(for: "alice")?.readsMailbox == "alice")
        #expect(file.entry(for: "c@d.example")?.readsMailbox == nil, "not a mailbox name, and none set")
        let bob = try #require(file.entry(for: "bob"))
        #expect(bob.readsMailbox == "sales")
        #expect(bob.maySend(as: "bob@example.org") && bob.maySend(as: "anyone@SHOP.example"))
        #expect(!bob.maySend(as: "alice@example.org"))
        #expect(file.entry(for: "alice")?.maySend(as: "x@y.example") == true, "no send_as: anything")
    }

    @Test func changingAPasswordKeepsTheSettings() throws {
        var file = try UsersFile(path: "users", text: "bob:\(sha):mailbox=sales\n")
        file.set("bob", hash: "$5$other$hash")
        #expect(file.text == "bob:$5$other$hash:mailbox=sales\n")
    }

    @Test(arguments: [
        ("bob:$5$x$y:mailbox=../etc", "mailbox=../etc: a mailbox name"),
        ("bob:$5$x$y:send_as=not an address", "send_as: not an address"),
        ("bob:$5$x$y:colour=blue", "unknown setting colour"),
        ("bob:$5$x$y:mailbox", "expected mailbox=NAME"),
    ])
    func badSettingsNameTheLine(_ line: String, _ message: String) {
        #expect {
            try UsersFile(path: "users", text: line + "\n")
        } throws: { error in
            "\(error)".hasPrefix("users:1: user bob: ") && "\(error)".contains(message)
        }
    }
}
