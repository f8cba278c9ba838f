import Foundation
import Testing

/// An upstream with a self-signed certificate (Python's ssl module serving it): reached by CA file or by
/// pin, refused without either, and every outcome in words an operator can act on.
@Suite struct UpstreamTLSTests {
    static let fast = "delivery:\n  first_retry: 1s\n  max_retry_interval: 2s\n"

    func config(_ upstream: FakeUpstream, _ trust: String) -> String {
        Self.fast + """
            upstreams:
              provider:
                hosts: ["127.0.0.1:\(upstream.port)"]
                tls: starttls
            \(trust.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))

            """
    }

    func send(_ server: ServerProcess) async throws {
        let result = try await Peer.run(
            "send", server: server,
            ["--port", "\(server.smtpPort)", "--from", "alice@example.org", "--to", "bob@example.net"])
        #expect(result["ok"] as? Bool == true, "\(result)")
    }

    /// The SHA-256 of the certificate (or, with `key`, of its public key), as openssl prints it.
    func fingerprint(_ upstream: FakeUpstream, key: Bool = false) async throws -> String {
        let certificate = upstream.directory.appendingPathComponent("cert.pem").path
        let command =
            key
            ? "openssl x509 -in \(certificate) -pubkey -noout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r"
            : "openssl x509 -in \(certificate) -noout -fingerprint -sha256"
        let result = try await ServerProcess.run(["/bin/sh", "-c", command], executable: true)
        let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return key ? String(text.prefix(64)) : String(text.split(separator: "=").last ?? "")
    }

    func deliveryLine(_ server: ServerProcess, _ status: String) async throws -> Substring {
        try await server.waitForLog("status=\(status)")
        return try #require(server.logText.split(separator: "\n").first { $0.contains("status=\(status)") })
    }

    @Test func aCAFileVerifiesAPrivateCertificate() async throws {
        let upstream = try await FakeUpstream(mode: "accept", tls: true)
        let ca = upstream.directory.appendingPathComponent("cert.pem").path
        let rules = ["90-routes.rules": "route * relay:provider\n"]
        try await withServer(config: config(upstream, "tls_ca_file: \(ca)"), rules: rules, delivery: true) { server in
            try await send(server)
            _ = try await upstream.waitForTransactions(1)
            let line = try await deliveryLine(server, "sent")
            #expect(line.contains("verified=yes"), "\(line)")
        }
    }

    @Test(arguments: [false, true])
    func aPinnedCertificateOrKeyIsAccepted(byKey: Bool) async throws {
        let upstream = try await FakeUpstream(mode: "accept", tls: true)
        let pin = try await fingerprint(upstream, key: byKey)
        #expect(pin.count >= 64, "openssl gave \(pin)")
        let rules = ["90-routes.rules": "route * relay:provider\n"]
        try await withServer(config: config(upstream, "tls_fingerprint: \"\(pin)\""), rules: rules, delivery: true) {
            server in
            try await send(server)
            _ = try await upstream.waitForTransactions(1)
            let line = try await deliveryLine(server, "sent")
            #expect(line.contains("verified=yes"), "\(line)")
        }
    }

    @Test func aPinThatDoesNotMatchKeepsTheMailQueued() async throws {
        let upstream = try await FakeUpstream(mode: "accept", tls: true)
        let rules = ["90-routes.rules": "route * relay:provider\n"]
        let wrong = String(repeating: "ab", count: 32)
        try await withServer(config: config(upstream, "tls_fingerprint: \(wrong)"), rules: rules, delivery: true) {
            server in
            try await send(server)
            let line = try await deliveryLine(server, "deferred")
            #expect(line.contains("does not match tls_fingerprint"), "\(line)")
            #expect(!line.contains(".cc:"), "no BoringSSL source paths: \(line)")
            #expect(upstream.transactions.isEmpty)
        }
    }

    @Test func anUntrustedCertificateSaysWhatToSet() async throws {
        let upstream = try await FakeUpstream(mode: "accept", tls: true)
        let rules = ["90-routes.rules": "route * relay:provider\n"]
        try await withServer(config: config(upstream, ""), rules: rules, delivery: true) { server in
            try await send(server)
            let line = try await deliveryLine(server, "deferred")
            #expect(line.contains("set tls_ca_file or tls_fingerprint"), "\(line)")
        }
    }

    /// `relay-test` against the same pinned upstream: each failed host is named, and its exit codes are
    /// the ones its help gives (0 worked, 1 failed, 2 bad settings).
    @Test func relayTestNamesTheFailureAndExitsAsItsHelpSays() async throws {
        let upstream = try await FakeUpstream(mode: "accept", tls: true)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "relaygate-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func run(_ trust: String, _ name: String = "provider") async throws -> (status: Int32, output: String) {
            try config(upstream, trust).write(
                to: directory.appendingPathComponent("relaygate.yaml"), atomically: true, encoding: .utf8)
            return try await ServerProcess.run(["relay-test", name, "--rules", directory.path])
        }
        let pin = try await fingerprint(upstream)
        let worked = try await run("tls_fingerprint: \"\(pin)\"")
        #expect(worked.status == 0, "\(worked.output)")
        #expect(worked.output.contains("certificate verified"), "\(worked.output)")
        #expect(worked.output.contains("OK: provider took EHLO and TLS\n"), "no username, so no AUTH is claimed")
        let failed = try await run("tls_fingerprint: \(String(repeating: "00", count: 32))")
        #expect(failed.status == 1, "\(failed.output)")
        #expect(failed.output.contains("127.0.0.1:\(upstream.port) failed at TLS"), "\(failed.output)")
        #expect(failed.output.contains("does not match tls_fingerprint"), "\(failed.output)")
        let unknown = try await run("", "nonesuch")
        #expect(unknown.status == 2, "\(unknown.output)")
    }
}
