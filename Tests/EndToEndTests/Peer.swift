import Foundation

/// Runs `Peers/smtp_peer.py` (Python's smtplib, a real client no one here wrote) and decodes its JSON answer.
enum Peer {
    static let script = ServerProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Peers/smtp_peer.py").path

    static func run(_ command: String, server: ServerProcess, _ arguments: [String]) async throws -> [String: Any] {
        let finished = try await runToEnd(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", script, command, "--cafile", server.spool + "/tls/cert.pem"] + arguments, separateErrors: true)
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
