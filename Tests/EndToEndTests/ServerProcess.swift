import Foundation
import Synchronization

/// A `relaygate serve` process, started the way the README says, in a private directory with its own rules/
/// and spool/, on free loopback ports. Its log is collected so tests can wait for and look at lines.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test's task; the log is behind a Mutex.
    let directory: URL
    let process = Process()
    private let log = LogBuffer()
    private(set) var smtpPort = 0
    private(set) var smtpsPort = 0
    private(set) var pop3Port = 0
    private(set) var pop3sPort = 0
    private(set) var imapPort = 0
    private(set) var imapsPort = 0
    /// Every listener the server reported, as (protocol, address): ("smtps", "[::1]:40465").
    private(set) var bound: [(protocol: String, address: String)] = []

    var spool: String { directory.appendingPathComponent("spool").path }
    var rules: String { directory.appendingPathComponent("rules").path }

    /// The built executable, next to the test bundle.
    static var executable: URL {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("relaygate")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/relaygate")
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Starts a server. `config` is the text of rules/relaygate.yaml, if any; `users` maps names to passwords;
    /// `rules` maps rules file names (`10-shop.rules`) to their text.
    /// Delivery is off unless `delivery` is set: intake tests look at the queue as intake left it, and no
    /// test may send mail beyond loopback.
    /// `listeners` replaces the loopback listener flags (nil: one of each protocol on 127.0.0.1, port 0);
    /// `runAs` runs the server as that user and group (with setpriv), in a directory it owns.
    init(
        config: String? = nil, users: [String: String] = [:], rules: [String: String] = [:], directory: URL? = nil,
        delivery: Bool = false, listeners: [String]? = nil, runAs: (user: String, group: String)? = nil,
        extraArguments: [String] = []
    ) async throws {
        self.directory =
            directory
            ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("relaygate-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: self.directory.appendingPathComponent("rules"), withIntermediateDirectories: true)
        var config = config
        if !delivery {
            config = (config ?? "") + "delivery:\n  enabled: false\n"
        }
        if let config {
            try config.write(
                to: self.directory.appendingPathComponent("rules/relaygate.yaml"), atomically: true, encoding: .utf8)
        }
        for (name, text) in rules {
            try text.write(
                to: self.directory.appendingPathComponent("rules/" + name), atomically: true, encoding: .utf8)
        }
        for (name, password) in users {
            let result = try await Self.run(["users", "add", name, "--rules", self.rules], input: password + "\n")
            guard result.status == 0 else { throw ServerProcessError("users add failed: \(result.output)") }
        }
        if let runAs {
            let chown = try await Self.run(
                ["/bin/chown", "-R", "\(runAs.user):\(runAs.group)", self.directory.path], executable: true)
            guard chown.status == 0 else { throw ServerProcessError("chown failed: \(chown.output)") }
        }
        try await start(listeners: listeners, runAs: runAs, extraArguments: extraArguments)
    }

    /// A second server on the same directory (after a crash or a stop).
    /// (Its relaygate.yaml is already written: `delivery: true` only keeps a second `delivery:` key out of it.)
    func restarted() async throws -> ServerProcess {
        try await ServerProcess(directory: directory, delivery: true)
    }

    private func start(listeners: [String]?, runAs: (user: String, group: String)?, extraArguments: [String])
        async throws
    {
        let loopback = [
            "--smtp", "127.0.0.1:0", "--smtps", "127.0.0.1:0", "--pop3", "127.0.0.1:0", "--pop3s", "127.0.0.1:0",
            "--imap", "127.0.0.1:0", "--imaps", "127.0.0.1:0",
        ]
        let serve =
            ["serve", "--rules", rules, "--spool", spool, "--hostname", "mx.test"] + (listeners ?? loopback)
            + extraArguments
        if let runAs {
            // setpriv execs the server, so the process (and the PID signals go to) is the server itself.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments =
                ["--reuid=\(runAs.user)", "--regid=\(runAs.group)", "--clear-groups", Self.executable.path] + serve
        } else {
            process.executableURL = Self.executable
            process.arguments = serve
        }
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [log] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            log.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
        try await waitForLog("relaygate: ready", timeout: .seconds(30))
        for line in logText.split(separator: "\n") where line.contains("listening address=") {
            let address = line.split(separator: " ").first { $0.hasPrefix("address=") }!.dropFirst("address=".count)
            let port = Int(address.split(separator: ":").last!)!
            let implicit = line.contains("tls=implicit")
            let name = line.contains(" pop3: ") ? "pop3" : line.contains(" imap: ") ? "imap" : "smtp"
            bound.append((name + (implicit ? "s" : ""), String(address)))
            if line.contains(" pop3: ") {
                if implicit { pop3sPort = port } else { pop3Port = port }
            } else if line.contains(" imap: ") {
                if implicit { imapsPort = port } else { imapPort = port }
            } else {
                if implicit { smtpsPort = port } else { smtpPort = port }
            }
        }
    }

    var logText: String { log.text }

    /// When the server logged the first line containing `text` (from the line's timestamp).
    func logTime(of text: String) -> Date? {
        guard let line = logText.split(separator: "\n").first(where: { $0.contains(text) }),
            let stamp = line.split(separator: " ").first
        else { return nil }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(String(stamp))
    }

    /// Waits until the log contains `text`; fails with the log so far if it does not come in time.
    func waitForLog(_ text: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !logText.contains(text) {
            if !process.isRunning && !logText.contains(text) {
                throw ServerProcessError(
                    "server exited (\(process.terminationStatus)) before logging \"\(text)\":\n\(logText)")
            }
            if ContinuousClock.now > deadline {
                throw ServerProcessError("no \"\(text)\" in the log after \(timeout):\n\(logText)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends a signal and waits for the process to end; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        await process.exited()
        return process.terminationStatus
    }

    func removeDirectory() {
        try? FileManager.default.removeItem(at: directory)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Runs `relaygate ARGS` to completion, with `input` on stdin.
    /// With `executable`, the first argument is the program to run instead.
    static func run(
        _ arguments: [String], input: String = "", directory: URL? = nil, executable other: Bool = false,
        timeout: Duration = .seconds(600)
    ) async throws -> (status: Int32, output: String) {
        let finished = try await runToEnd(
            other ? URL(fileURLWithPath: arguments[0]) : executable, other ? Array(arguments.dropFirst()) : arguments,
            input: input, directory: directory, timeout: timeout)
        return (finished.status, String(decoding: finished.output, as: UTF8.self))
    }
}

struct ServerProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Log text collected from a reading thread.
final class LogBuffer: Sendable {
    private let storage = Mutex("")
    func append(_ text: String) { storage.withLock { $0 += text } }
    var text: String { storage.withLock { $0 } }
}
