import Foundation
import Testing

/// No secret reaches the log at any level: not an upstream's password, not a user's password or its hash,
/// not the SRS key, not an AUTH payload. The server runs at `log_level: debug`, where the most is said, and
/// uses each secret once.
@Suite struct SecretsTests {
    @Test func debugLoggingShowsNoSecret() async throws {
        let upstreamPassword = "UpstreamSecret-4711"
        let userPassword = "UserSecret-0815"
        let srsKey = "SRSKeySecret-ABCDEFGHIJ"
        let upstream = try await FakeUpstream(mode: "require-auth", tls: true, user: "relay-user", password: upstreamPassword)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("spool"), withIntermediateDirectories: true)
        try "\(srsKey)\n".write(to: directory.appendingPathComponent("spool/srs-secrets"), atomically: true, encoding: .utf8)
        let config = DeliveryEndToEndTests.fast + """
            log_level: debug
            upstreams:
              provider:
                hosts: ["127.0.0.1:\(upstream.port)"]
                tls: starttls
                username: relay-user
                password: \(upstreamPassword)
                verify_certificate: false

            """
        let rules = ["10-shop.rules": "info@shop.example   carol@far.example\nroute * relay:provider\n"]
        let server = try await ServerProcess(
            config: config, users: ["app": userPassword], rules: rules, directory: directory, delivery: true)
        defer { server.removeDirectory() }
        let result = try await Peer.run(
            "send", server: server,
            [
                "--port", "\(server.smtpsPort)", "--implicit-tls", "--user", "app", "--password", userPassword,
                "--from", "bob@example.org", "--to", "info@shop.example",
            ])
        #expect(result["ok"] as? Bool == true, "\(result)")
        let received = try await upstream.waitForTransactions(1)[0]
        #expect(received.auth == "relay-user" && received.mail_from.hasPrefix("<SRS0="), "the secrets were used")
        try await server.waitForLog("status=sent")
        await server.stop()

        let log = server.logText
        #expect(log.contains(" debug "), "the log is at debug level")
        let hash = try String(contentsOf: directory.appendingPathComponent("rules/users"), encoding: .utf8)
            .split(separator: ":")[1]
        let authPlain = Data("\u{0}app\u{0}\(userPassword)".utf8).base64EncodedString()
        for secret in [upstreamPassword, userPassword, srsKey, String(hash), authPlain] {
            #expect(!log.contains(secret), "\(secret) is in the log")
        }
        // The SRS key as bytes, as a Swift array would print it.
        let keyBytes = Array(srsKey.utf8).prefix(6).map(String.init).joined(separator: ", ")
        #expect(!log.contains(keyBytes), "the SRS key's bytes are in the log")
    }
}
