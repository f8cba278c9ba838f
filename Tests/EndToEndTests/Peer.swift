import Foundation

/// Runs `Peers/smtp_peer.py` (Python's smtplib, a real client no one here wrote) and decodes its JSON answer.
enum Peer {
    static let script = ServerProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Peers/smtp_peer.py").path

    static func run(_ command: String, server: ServerProcess, _ arguments: [String]) async throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, command, "--cafile", server.spool + "/tls/cert.pem"] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw ServerProcessError(
                "python peer failed (\(process.terminationStatus)): \(String(decoding: data, as: UTF8.self)) \(errorText)"
            )
        }
        return object
    }
}
