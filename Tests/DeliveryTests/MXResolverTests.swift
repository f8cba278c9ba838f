import Foundation
import MailModel
import NIOCore
import NIOPosix
import Testing

@testable import Delivery

/// libresolv against a DNS responder on loopback (Peers/dns_responder.py, no network beyond it).
@Suite(.serialized) struct MXResolverTests {
    final class Responder: @unchecked Sendable {
        let process = Process()
        let lifeline = Pipe()
        var port = 0

        init() throws {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/dns_responder.py")
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script.path]
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = lifeline
            try process.run()
            var bytes = Data()
            while !bytes.contains(UInt8(ascii: "\n")) {
                let more = output.fileHandleForReading.availableData
                if more.isEmpty { break }
                bytes.append(more)
            }
            let line = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            port = Int(line.dropFirst("PORT ".count)) ?? 0
        }

        deinit {
            try? lifeline.fileHandleForWriting.close()
            process.terminate()
        }
    }

    func resolve(_ domain: String) throws -> MailHosts {
        let responder = try Responder()
        return SystemMXResolver.lookup(domain, server: ("127.0.0.1", responder.port))
    }

    @Test func mxHostsComeInPreferenceOrder() throws {
        #expect(try resolve("ordered.test") == .hosts(["mx1.ordered.test", "mx2.ordered.test", "mx3.ordered.test"]))
    }

    @Test func noMXMeansTheDomainItself() throws {
        #expect(try resolve("nomx.test") == .hosts(["nomx.test"]))
    }

    @Test func aNullMXIsAPermanentFailure() throws {
        guard case .failure(let detail, let permanent, let status) = try resolve("nullmx.test") else {
            Issue.record("expected a failure")
            return
        }
        #expect(permanent && detail.contains("null MX"))
        #expect(status == EnhancedStatusCode(5, 1, 10))
    }

    @Test func aMissingDomainIsPermanentAndABrokenResolverTemporary() throws {
        guard case .failure(_, let missingIsPermanent, let missingStatus) = try resolve("missing.test"),
            case .failure(_, let brokenIsPermanent, _) = try resolve("broken.test")
        else {
            Issue.record("expected failures")
            return
        }
        #expect(missingIsPermanent)
        #expect(missingStatus == EnhancedStatusCode(5, 1, 2))
        #expect(!brokenIsPermanent)
    }

    /// What makes a domain with no mail host, or with mail hosts that do not exist, a bounce (5.4.4)
    /// rather than five days of retries: the address lookups tell "not there" from "no answer".
    @Test func addressLookupsTellMissingFromUnanswered() throws {
        let responder = try Responder()
        let server = ("127.0.0.1", responder.port)
        #expect(SystemMXResolver.addressRecords("nomx.test", port: 25, server: server)
            == .addresses([try SocketAddress(ipAddress: "192.0.2.10", port: 25)]))
        #expect(SystemMXResolver.addressRecords("nodata.test", port: 25, server: server) == .notFound)
        #expect(SystemMXResolver.addressRecords("missing.test", port: 25, server: server) == .notFound)
        #expect(SystemMXResolver.addressRecords("broken.test", port: 25, server: server) == .unavailable)
    }
}
