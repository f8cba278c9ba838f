import Foundation
import Testing
import TranscriptSupport

/// The IMAP dialog fixtures of IMAPProtocolTests, replayed line by line against the running server over
/// implicit TLS (Python's ssl), each on a server and mailbox of its own. ServerTests plays the same
/// fixtures against the pure session.
@Suite struct IMAPDialogEndToEndTests {
    @Test func everyFixtureAgainstTheServer() async throws {
        let dialogs = try IMAPDialog.all()
        #expect(dialogs.count >= 10)
        for dialog in dialogs {
            try await withServer(users: ["alice": "secret"], rules: POP3EndToEndTests.rules) { server in
                let steps: [[String]] = dialog.steps.map { step in
                    switch step {
                    case .send(let text): ["send", text]
                    case .expectPrefix(let text): ["prefix", text]
                    case .expectLine(let text): ["line", text]
                    case .expectClosed: ["closed"]
                    }
                }
                let file = server.directory.appendingPathComponent("dialog.json")
                try JSONSerialization.data(withJSONObject: steps).write(to: file)
                let finished = try await runToEnd(
                    URL(fileURLWithPath: "/usr/bin/env"),
                    [
                        "python3", Peer.peers.appendingPathComponent("imap_dialog.py").path, "--port",
                        "\(server.imapsPort)", "--cafile", server.spool + "/tls/cert.pem", "--steps", file.path,
                    ], separateErrors: true)
                let result = try JSONSerialization.jsonObject(with: finished.output) as? [String: Any]
                #expect(
                    result?["ok"] as? Bool == true,
                    "\(dialog.name): \(result?["failure"] ?? String(decoding: finished.output, as: UTF8.self))")
            }
        }
    }
}
