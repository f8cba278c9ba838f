import Crypto
import NIOCore
import NIOSSL

/// How an upstream's certificate is checked (`upstreams.NAME` in relaygate.yaml).
public enum UpstreamTrust: Sendable, Equatable {
    /// Against the system's trust store, with the host name (the default).
    case system
    /// Against the CAs in this PEM file, with the host name (a private CA).
    case caFile(String)
    /// By pin: the SHA-256 of the certificate or of its public key is one of these; no CA, no host name
    /// (a self-signed upstream).
    case fingerprints([[UInt8]])
    /// Not at all (`verify_certificate: false`): encrypted, not authenticated.
    case none
}

/// The TLS side of one outbound connection: the context, the name to send and check, and any pins.
/// Makes the client handler for implicit TLS and for STARTTLS alike.
struct OutboundTLS: Sendable {
    let context: NIOSSLContext
    let serverName: String?
    let trust: UpstreamTrust

    var pins: [[UInt8]] {
        if case .fingerprints(let pins) = trust { pins } else { [] }
    }

    /// Whether a handshake that succeeds has checked the certificate (a CA or a pin).
    var verifies: Bool { trust != .none }

    func makeHandler() throws -> NIOSSLClientHandler {
        guard !pins.isEmpty else { return try NIOSSLClientHandler(context: context, serverHostname: serverName) }
        let pins = self.pins
        return try NIOSSLClientHandler(context: context, serverHostname: serverName) { certificates, promise in
            promise.succeed(certificates.first.map { Self.matches($0, pins) } == true ? .certificateVerified : .failed)
        }
    }

    /// Whether the certificate, or its public key (SubjectPublicKeyInfo), hashes to one of the pins: a
    /// key pin survives a renewal that keeps the key.
    static func matches(_ certificate: NIOSSLCertificate, _ pins: [[UInt8]]) -> Bool {
        var digests: [[UInt8]] = []
        if let der = try? certificate.toDERBytes() { digests.append(Array(SHA256.hash(data: der))) }
        if let key = try? certificate.extractPublicKey().toSPKIBytes() { digests.append(Array(SHA256.hash(data: key))) }
        return digests.contains { pins.contains($0) }
    }

    /// The context for an upstream: verification against the system's CAs or a CA file, a pin's (which
    /// verifies nothing itself and leaves the decision to the pin check), or none.
    static func context(for trust: UpstreamTrust, upstream name: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch trust {
        case .system:
            break
        case .caFile(let path):
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(path)
                guard !certificates.isEmpty else { throw OutboundTLSError("\(path) holds no PEM certificate") }
                configuration.trustRoots = .certificates(certificates)
            } catch let error as OutboundTLSError {
                throw OutboundTLSError("upstreams.\(name).tls_ca_file: \(error.description)")
            } catch {
                throw OutboundTLSError(
                    "upstreams.\(name).tls_ca_file: \(path) cannot be read as PEM certificates (\(words(for: error)))")
            }
        case .fingerprints:
            // Verification stays on so the pin callback runs; the callback replaces the chain check.
            configuration.certificateVerification = .noHostnameVerification
        case .none:
            configuration.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// A TLS failure in words an operator acts on, without BoringSSL's file names and line numbers.
    static func words(for error: any Error, trust: UpstreamTrust? = nil) -> String {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            switch trust {
            case .fingerprints: return "the certificate does not match tls_fingerprint"
            case .caFile: return "certificate not trusted by tls_ca_file (or issued for another name)"
            default: return "certificate not trusted: set tls_ca_file or tls_fingerprint (or it was issued for another name)"
            }
        }
        for (marker, meaning) in [
            ("WRONG_VERSION_NUMBER", "the server did not answer in TLS (is this port plaintext or STARTTLS?)"),
            ("UNSUPPORTED_PROTOCOL", "no TLS version in common (we need TLS 1.2 or later)"),
            ("NO_SHARED_CIPHER", "no cipher in common"),
            ("HANDSHAKE_FAILURE", "the server refused the TLS handshake"),
            ("unexpectedEOF", "the server closed the connection during the TLS handshake"),
            ("uncleanShutdown", "the server closed the connection during the TLS handshake"),
        ] where text.contains(marker) {
            return meaning
        }
        return stripped(text)
    }

    /// Drops `/path/to/file.cc:123` build paths that BoringSSL puts in its error strings.
    static func stripped(_ text: String) -> String {
        text.split(separator: " ", omittingEmptySubsequences: false).filter { word in
            !(word.contains("/") && (word.contains(".c:") || word.contains(".cc:")))
        }.joined(separator: " ")
    }
}

struct OutboundTLSError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
