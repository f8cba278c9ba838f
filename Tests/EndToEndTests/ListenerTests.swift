import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The listeners as a user meets them: both address families, the shipped default set (moved by
/// `--port-offset`, so it needs no root and no free port 25), a server run as an ordinary user, and a
/// listener that cannot bind. Python's smtplib, poplib and imaplib do the talking (Peers/listener_probe.py).
@Suite struct ListenerEndToEndTests {
    static let probeScript = Peer.peers.appendingPathComponent("listener_probe.py").path

    /// Each endpoint's result from listener_probe.py: ok, and the greeting or the error.
    func probe(_ server: ServerProcess, _ endpoints: [String]) async throws -> [String: (ok: Bool, text: String)] {
        let finished = try await runToEnd(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", Self.probeScript, "--cafile", server.spool + "/tls/cert.pem"] + endpoints, separateErrors: true)
        guard let object = try JSONSerialization.jsonObject(with: finished.output) as? [String: [String: Any]] else {
            throw ServerProcessError("listener_probe.py: \(String(decoding: finished.errors, as: UTF8.self))")
        }
        return object.mapValues { result in
            (result["ok"] as? Bool == true, (result["greeting"] ?? result["error"]).map { "\($0)" } ?? "")
        }
    }

    func expectAllAnswer(_ results: [String: (ok: Bool, text: String)], count: Int) {
        #expect(results.count == count)
        for (endpoint, result) in results.sorted(by: { $0.key < $1.key }) {
            #expect(result.ok, "\(endpoint): \(result.text)")
        }
    }

    @Test func bothFamiliesOnOnePortAndIPv6ForEveryProtocol() async throws {
        let port = try freeDualStackPort()
        let listeners = [
            "--smtp", "0.0.0.0:\(port)", "--smtp", "[::]:\(port)", "--smtps", "[::1]:0", "--pop3", "[::1]:0",
            "--pop3s", "[::1]:0", "--imap", "[::1]:0", "--imaps", "[::1]:0",
        ]
        let server = try await ServerProcess(listeners: listeners)
        defer { server.removeDirectory() }
        #expect(server.bound.map(\.address).contains("0.0.0.0:\(port)"))
        #expect(server.bound.map(\.address).contains("[::]:\(port)"))
        for host in ["127.0.0.1", "::1"] {
            let result = try await Peer.run(
                "send", server: server,
                ["--host", host, "--port", "\(port)", "--starttls", "--from", "a@example.org", "--to", "b@localhost"])
            #expect(result["ok"] as? Bool == true, "over \(host): \(result)")
        }
        let v6 = server.bound.filter { $0.address.hasPrefix("[::1]") }.map { "\($0.protocol):::1:\(self.port(of: $0.address))" }
        expectAllAnswer(try await probe(server, v6), count: 5)
        #expect(server.logText.components(separatedBy: " queued ").count - 1 == 2, "\(server.logText)")
        await server.stop()
    }

    /// The default listener set itself (no listener flags, no listen: key), moved by an offset: seven ports,
    /// each on 0.0.0.0 and [::], each answering on 127.0.0.1 and ::1.
    @Test func theShippedDefaultSetAnswersOnBothFamilies() async throws {
        let defaults = [("smtp", 25), ("smtp", 2525), ("smtps", 465), ("pop3", 110), ("pop3s", 995), ("imap", 143),
            ("imaps", 993)]
        let (server, offset) = try await startWithFreeOffset(ports: defaults.map(\.1))
        defer { server.removeDirectory() }
        #expect(server.bound.count == 14, "\(server.bound)")
        let endpoints = defaults.flatMap { name, port in
            ["127.0.0.1", "::1"].map { "\(name):\($0):\(port + offset)" }
        }
        expectAllAnswer(try await probe(server, endpoints), count: 14)
        await server.stop()
    }

    /// An ordinary user (nobody) runs the server in a directory it owns: it takes a message and delivers it
    /// to a next hop. Before the socket options were set at their own level, every accepted connection
    /// was closed without a greeting (SO_DEBUG needs CAP_NET_ADMIN) and every outbound connection failed.
    @Test func anOrdinaryUserReceivesAndDelivers() async throws {
        let upstream = try await FakeUpstream(mode: "accept")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        // nobody's own group, by number: its name differs between distributions (nogroup, nobody).
        let group = try #require(getpwnam("nobody")?.pointee.pw_gid)
        let server = try await ServerProcess(
            config: DeliveryEndToEndTests.fast, rules: rules, delivery: true, runAs: ("nobody", "\(group)"))
        defer { server.removeDirectory() }
        let result = try await Peer.run(
            "send", server: server,
            ["--port", "\(server.smtpPort)", "--starttls", "--from", "a@example.org", "--to", "b@example.net"])
        #expect(result["ok"] as? Bool == true, "\(result)")
        let received = try await upstream.waitForTransactions(1)
        #expect(received.first?.rcpt_to == ["<b@example.net>"])
        try await server.waitForLog("status=sent")
        #expect(try spoolOwner(server) == "nobody")
        await server.stop()
    }

    /// A listener that cannot bind stops the server before delivery starts: the error names the cause and
    /// the fix, no event-loop error follows, and the message waiting in the spool is not sent.
    @Test func aListenerThatCannotBindStopsCleanlyBeforeDelivering() async throws {
        let upstream = try await FakeUpstream(mode: "accept")
        let rules = ["90-routes.rules": "route * [127.0.0.1]:\(upstream.port)\n"]
        let first = try await ServerProcess(rules: rules)
        defer { first.removeDirectory() }
        _ = try await Peer.run(
            "send", server: first, ["--port", "\(first.smtpPort)", "--from", "a@example.org", "--to", "b@example.net"])
        await first.stop()
        try DeliveryEndToEndTests.fast.write(
            to: first.directory.appendingPathComponent("rules/relaygate.yaml"), atomically: true, encoding: .utf8)

        let busy = try ListeningSocket()
        let result = try await ServerProcess.run(
            [
                "serve", "--rules", first.rules, "--spool", first.spool, "--smtp", "127.0.0.1:0", "--imap",
                "127.0.0.1:\(busy.port)",
            ], directory: first.directory, timeout: .seconds(20))
        #expect(result.status == 1, "a runtime error, not a usage error: \(result.output)")
        #expect(result.output.contains("cannot listen on 127.0.0.1:\(busy.port): the address is in use"), "\(result.output)")
        #expect(!result.output.contains("Cannot schedule"), "\(result.output)")
        #expect(!result.output.contains("USAGE:"), "\(result.output)")
        #expect(upstream.transactions.isEmpty, "delivery must not start before every listener is bound")
        #expect(try FileManager.default.contentsOfDirectory(atPath: first.spool + "/incoming").count == 1)
    }

    // MARK: Helpers

    func port(of address: String) -> Int { Int(address.split(separator: ":").last!)! }

    /// Starts the default set with an offset whose seven ports are free, trying a few.
    func startWithFreeOffset(ports: [Int]) async throws -> (ServerProcess, Int) {
        var lastError: (any Error)?
        for _ in 0..<5 {
            // Below the kernel's ephemeral range (32768 and up), so outgoing connections do not take them.
            let offset = Int.random(in: 20000...30000)
            guard ports.allSatisfy({ isFree($0 + offset) }) else { continue }
            do {
                return (try await ServerProcess(listeners: ["--port-offset", "\(offset)"]), offset)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? ServerProcessError("no free offset for the default ports")
    }

    func isFree(_ port: Int) -> Bool {
        (try? ListeningSocket(port: port)) != nil
    }

    func spoolOwner(_ server: ServerProcess) throws -> String? {
        try FileManager.default.attributesOfItem(atPath: server.spool + "/queue")[.ownerAccountName] as? String
    }
}

/// A socket listening on a port of both families ([::] with IPV6_V6ONLY off), closed when it goes: it keeps a
/// port busy for a test, or finds a free one.
final class ListeningSocket {
    let descriptor: Int32
    let port: Int

    init(port: Int = 0) throws {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var off: Int32 = 0
        setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        address.sin6_addr = in6addr_any
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            throw ServerProcessError("cannot listen on port \(port): errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        self.port = Int(UInt16(bigEndian: address.sin6_port))
    }

    deinit { close(descriptor) }
}

/// A port free on both families at the time of asking.
func freeDualStackPort() throws -> Int { try ListeningSocket().port }
