import Foundation

/// Runs the Python peers (Python's smtplib and poplib, real clients no one here wrote) and decodes their
/// JSON answers.
enum Peer {
    static let peers = ServerProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Peers")
    static let script = peers.appendingPathComponent("smtp_peer.py").path

    /// `smtp_peer.py COMMAND ...`.
    static func run(_ command: String, server: ServerProcess, _ arguments: [String]) async throws -> [String: Any] {
        try await runScript(script, [command, "--cafile", server.spool + "/tls/cert.pem"] + arguments)
    }

    /// `pop3_peer.py ...`: one POP3 session.
    static func pop3(server: ServerProcess, _ arguments: [String]) async throws -> [String: Any] {
        try await runScript(
            peers.appendingPathComponent("pop3_peer.py").path, ["--cafile", server.spool + "/tls/cert.pem"] + arguments)
    }

    /// `imap_peer.py ...`: one IMAP session running `operations` (imaplib method name and arguments).
    static func imap(server: ServerProcess, _ arguments: [String], operations: [[String]] = []) async throws
        -> [String: Any]
    {
        let ops = String(decoding: try JSONSerialization.data(withJSONObject: operations), as: UTF8.self)
        return try await runScript(
            peers.appendingPathComponent("imap_peer.py").path,
            ["--cafile", server.spool + "/tls/cert.pem", "--ops", ops] + arguments)
    }

    private static func runScript(_ path: String, _ arguments: [String]) async throws -> [String: Any] {
        let finished = try await runToEnd(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", path] + arguments, separateErrors: true)
        guard finished.status == 0,
            let object = try? JSONSerialization.jsonObject(with: finished.output) as? [String: Any]
        else {
            throw ServerProcessError(
                "python peer failed (\(finished.status)): \(String(decoding: finished.output, as: UTF8.self)) "
                    + String(decoding: finished.errors, as: UTF8.self))
        }
        return object
    }
}
