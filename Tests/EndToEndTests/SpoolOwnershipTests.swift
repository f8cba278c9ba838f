import Foundation
import Testing

/// One spool, one server: a second `serve` on a spool in use stops before it touches anything, so no
/// message can be delivered twice.
@Suite struct SpoolOwnershipTests {
    /// Every file under `directory` with its size, modification time and inode: any write shows.
    func snapshot(_ directory: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let enumerator = try #require(FileManager.default.enumerator(atPath: directory))
        while let path = enumerator.nextObject() as? String {
            var info = stat()
            guard lstat(directory + "/" + path, &info) == 0 else { continue }
            result[path] = "\(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ino)"
        }
        return result
    }

    @Test func aSecondServerOnTheSameSpoolStopsAndTouchesNothing() async throws {
        let upstream = try await FakeUpstream(mode: "accept")
        let first = try await ServerProcess(rules: ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"])
        defer { first.removeDirectory() }
        _ = try await Peer.run(
            "send", server: first, ["--port", "\(first.smtpPort)", "--from", "a@example.org", "--to", "b@example.net"])
        let before = try snapshot(first.spool)
        #expect(before.keys.contains { $0.hasPrefix("incoming/") }, "a message waits: \(before.keys.sorted())")

        // The second would deliver what the first holds: its configuration turns delivery on.
        let config = first.directory.appendingPathComponent("second.yaml")
        try DeliveryEndToEndTests.fast.write(to: config, atomically: true, encoding: .utf8)
        let second = try await ServerProcess.run(
            ["serve", "--rules", first.rules, "--spool", first.spool, "--config", config.path, "--smtp", "127.0.0.1:0"],
            directory: first.directory, timeout: .seconds(20))
        #expect(second.status == 1, "\(second.output)")
        #expect(
            second.output.contains(
                "spool \(first.spool) is in use by another relaygate server (PID \(first.process.processIdentifier))"),
            "\(second.output)")
        #expect(!second.output.contains("spool recovered"), "it must stop before recovery: \(second.output)")
        #expect(try snapshot(first.spool) == before, "the second server changed the spool")
        #expect(upstream.transactions.isEmpty)
        await first.stop()
    }
}
