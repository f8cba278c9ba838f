import Foundation

/// `Peers/fake_upstream.py`: a scripted SMTP next hop written in Python (not our own server), with what it
/// received written as JSON lines.
final class FakeUpstream: @unchecked Sendable {
    // @unchecked: the process is only touched from the test's task.
    struct Transaction: Decodable {
        let mail_from: String
        let rcpt_to: [String]
        let data: String
        let tls: Bool
        let auth: String?
        /// Which connection (1, 2, …) carried it.
        let connection: Int
    }

    static let script = ServerProcess.packageRoot.appendingPathComponent("Tests/EndToEndTests/Peers/fake_upstream.py")
        .path
    let process = Process()
    private let lifeline = Pipe()
    let record: URL
    let directory: URL
    private(set) var port = 0

    /// - Parameter tls: make a self-signed certificate (for 127.0.0.1, so it can be its own CA in a test)
    ///   and offer STARTTLS. It is `directory/cert.pem`.
    init(mode: String, tls: Bool = false, user: String? = nil, password: String? = nil) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-upstream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        record = directory.appendingPathComponent("received.jsonl")
        var arguments = [Self.script, "--mode", mode, "--record", record.path]
        if tls {
            let certificate = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            let openssl = try await ServerProcess.run(
                [
                    "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=fake.upstream", "-addext", "subjectAltName=DNS:fake.upstream,IP:127.0.0.1", "-keyout", key,
                    "-out", certificate,
                ], executable: true)
            guard openssl.status == 0 else { throw ServerProcessError("openssl: \(openssl.output)") }
            arguments += ["--cert", certificate, "--key", key]
        }
        if let user, let password { arguments += ["--user", user, "--password", password] }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        // The helper exits when this pipe closes: when this object goes, or the test process dies.
        process.standardInput = lifeline
        try process.run()
        let line = try await unblocked { output.fileHandleForReading.availableLineBlocking() }
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            throw ServerProcessError("fake upstream did not start: \(line)")
        }
        self.port = port
    }

    var transactions: [Transaction] {
        guard let data = try? Data(contentsOf: record) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONDecoder().decode(Transaction.self, from: $0) }
    }

    /// Waits until `count` transactions have arrived.
    func waitForTransactions(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [Transaction] {
        let deadline = ContinuousClock.now + timeout
        while transactions.count < count {
            guard ContinuousClock.now < deadline else {
                throw ServerProcessError("the upstream received \(transactions.count) of \(count) transactions")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return transactions
    }

    deinit {
        try? lifeline.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: directory)
    }
}

extension FileHandle {
    /// Reads up to the first newline (the helper's "PORT n" line), or to the end of the output.
    func availableLineBlocking() -> String {
        var bytes = Data()
        while !bytes.contains(UInt8(ascii: "\n")) {
            let more = availableData
            if more.isEmpty { break }
            bytes.append(more)
        }
        return String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }
}
