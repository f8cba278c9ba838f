import Foundation
import Testing
import X509

@testable import Server

@Suite struct TLSIdentityTests {
    @Test func generatesOnceThenReusesAndRemakesForANewHostname() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try TLSIdentity.selfSigned(in: directory, hostname: "mx.example.org")
        #expect(first.source == .selfSigned(certificate: directory + "/cert.pem", created: true))
        let keyMode =
            try FileManager.default.attributesOfItem(atPath: directory + "/key.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let pem = try String(contentsOfFile: directory + "/cert.pem", encoding: .utf8)
        let certificate = try Certificate(pemEncoded: pem)
        #expect(try certificate.extensions.subjectAlternativeNames?.contains(.dnsName("mx.example.org")) == true)
        _ = try first.makeServerContext()

        let again = try TLSIdentity.selfSigned(in: directory, hostname: "mx.example.org")
        #expect(again.source == .selfSigned(certificate: directory + "/cert.pem", created: false))
        #expect(try String(contentsOfFile: directory + "/cert.pem", encoding: .utf8) == pem)

        let renamed = try TLSIdentity.selfSigned(in: directory, hostname: "relay.example.org")
        #expect(renamed.source == .selfSigned(certificate: directory + "/cert.pem", created: true))
    }

    @Test func remakesACertificateAboutToExpire() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try TLSIdentity.selfSigned(
            in: directory, hostname: "mx.test", now: Date(timeIntervalSinceNow: -5 * 365 * 86400))
        let later = try TLSIdentity.selfSigned(in: directory, hostname: "mx.test")
        #expect(later.source == .selfSigned(certificate: directory + "/cert.pem", created: true))
    }

    @Test func explainsUnreadableFiles() {
        #expect {
            try TLSIdentity.load(certificate: "/nonexistent/cert.pem", key: "/nonexistent/key.pem")
        } throws: { error in
            "\(error)".contains("cannot read the TLS certificate /nonexistent/cert.pem")
        }
    }
}

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("0.0.0.0:25", "0.0.0.0", 25), ("[::]:465", "::", 465), ("[::1]:2525", "::1", 2525),
        ("localhost:0", "localhost", 0),
    ])
    func parses(_ text: String, _ host: String, _ port: Int) {
        #expect(ListenAddress(text) == ListenAddress(host: host, port: port))
        #expect(ListenAddress(text)?.description == text)
    }

    @Test(arguments: ["25", ":25", "::1:25", "[::1]25", "host:", "host:65536", "host:-1", "host:2x"])
    func refuses(_ text: String) {
        #expect(ListenAddress(text) == nil)
    }
}
