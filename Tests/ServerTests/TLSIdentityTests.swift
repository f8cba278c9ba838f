import FileSupport
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

    /// Each way a configured pair can be wrong is named, with what to do.
    @Test func namesWhatIsWrongWithAConfiguredPair() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try TLSIdentity.selfSigned(in: directory + "/a", hostname: "a.test")
        _ = try TLSIdentity.selfSigned(in: directory + "/b", hostname: "b.test")
        let (certificate, key) = (directory + "/a/cert.pem", directory + "/a/key.pem")
        func problem(_ certificate: String, _ key: String) -> String {
            do {
                _ = try TLSIdentity.load(certificate: certificate, key: key)
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(certificate, key) == "loaded")
        #expect(problem("/nonexistent/cert.pem", key).contains("the TLS certificate /nonexistent/cert.pem does not exist"))
        #expect(problem(certificate, "/nonexistent/key.pem").contains("the TLS key /nonexistent/key.pem does not exist"))
        #expect(problem(directory, key).contains("is a directory, not a file"))
        let der = directory + "/cert.der"
        let pem = try String(contentsOfFile: certificate, encoding: .utf8)
        try Certificate(pemEncoded: pem).serializeAsPEM().derBytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: der)) }
        #expect(problem(der, key).contains("is not PEM (no -----BEGIN line); if it is DER, convert it: openssl x509"))
        let garbage = directory + "/garbage.pem"
        try "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        #expect(problem(garbage, key).contains("does not parse"))
        #expect(
            problem(certificate, directory + "/b/key.pem").contains(
                "the TLS key \(directory)/b/key.pem does not belong to the certificate \(certificate)"))
    }

    /// Permission problems cannot be made as root (CI's user): the wording is checked on the error itself.
    @Test func anUnreadableFileSaysWhoCannotReadIt() {
        let reason = FileSystemError(operation: "open", path: "/etc/ssl/private/key.pem", code: EACCES).reason
        #expect(reason.hasPrefix("cannot be read by uid ") && reason.contains("permission denied"))
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
