import Crypto
import FileSupport
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate chain and key we present, from configured PEM files or, when none are configured, a
/// self-signed certificate generated on first start and kept under the spool (`tls/cert.pem`,
/// `tls/key.pem`, mode 0600), then reused. A generated certificate is made again if the hostname changes or
/// it is about to expire.
public struct TLSIdentity: Sendable {
    public enum Source: Sendable, Equatable {
        case configured(certificate: String, key: String)
        /// `created` is true when this start made it.
        case selfSigned(certificate: String, created: Bool)
    }

    public let certificateChain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    public let source: Source

    /// Loads a PEM chain (leaf first) and its PEM key. Each failure names its cause: a file missing or
    /// unreadable, not PEM, not parseable, or a key that does not belong to the certificate.
    public static func load(certificate: String, key: String) throws -> TLSIdentity {
        let chainPEM = try readPEM(certificate, what: "certificate")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
        } catch {
            throw TLSSetupError("the TLS certificate \(certificate) does not parse (\(error)); it must be a PEM chain, leaf first")
        }
        guard !chain.isEmpty else { throw TLSSetupError("the TLS certificate \(certificate) holds no certificate") }
        let keyPEM = try readPEM(key, what: "key")
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        } catch {
            throw TLSSetupError("the TLS key \(key) does not parse (\(error)); it must be an unencrypted PEM private key")
        }
        // BoringSSL would refuse a mismatched pair later, in words no operator can act on; say it here.
        if let leaf = try? Certificate(derEncoded: chain[0].toDERBytes()),
            let parsedKey = try? Certificate.PrivateKey(pemEncoded: keyPEM), parsedKey.publicKey != leaf.publicKey
        {
            throw TLSSetupError(
                "the TLS key \(key) does not belong to the certificate \(certificate) (their public keys differ); "
                    + "use the key made with that certificate (Let's Encrypt: privkey.pem beside fullchain.pem)")
        }
        return TLSIdentity(
            certificateChain: chain, privateKey: privateKey, source: .configured(certificate: certificate, key: key))
    }

    /// A file's text, if it is there, readable and PEM.
    private static func readPEM(_ path: String, what: String) throws -> String {
        let bytes: [UInt8]
        do throws(FileSystemError) {
            bytes = try FileSystem.readFile(path, limit: 1 << 20)
        } catch {
            throw TLSSetupError("the TLS \(what) \(path) \(error.reason)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN ") else {
            let convert =
                what == "key"
                ? "openssl pkey -inform der -in \(path) -out \(path).pem"
                : "openssl x509 -inform der -in \(path) -out \(path).pem"
            throw TLSSetupError(
                "the TLS \(what) \(path) is not PEM (no -----BEGIN line); if it is DER, convert it: \(convert)")
        }
        return text
    }

    /// Reuses the generated certificate in `directory`, or makes one for `hostname`.
    public static func selfSigned(in directory: String, hostname: String, now: Date = Date()) throws -> TLSIdentity {
        let certificatePath = directory + "/cert.pem"
        let keyPath = directory + "/key.pem"
        if let existing = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            let certificate = try? Certificate(pemEncoded: existing),
            certificate.notValidAfter > now.addingTimeInterval(30 * 86400),
            (try? certificate.extensions.subjectAlternativeNames)??.contains(.dnsName(hostname)) == true,
            let identity = try? load(certificate: certificatePath, key: keyPath)
        {
            return TLSIdentity(
                certificateChain: identity.certificateChain, privateKey: identity.privateKey,
                source: .selfSigned(certificate: certificatePath, created: false))
        }
        try generate(hostname: hostname, certificatePath: certificatePath, keyPath: keyPath, now: now)
        let identity = try load(certificate: certificatePath, key: keyPath)
        return TLSIdentity(
            certificateChain: identity.certificateChain, privateKey: identity.privateKey,
            source: .selfSigned(certificate: certificatePath, created: true))
    }

    /// A server context: TLS 1.2 at least (RFC 8996 retires 1.0 and 1.1), no client certificates.
    public func makeServerContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    private static func generate(hostname: String, certificatePath: String, keyPath: String, now: Date) throws {
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName {
            CommonName(hostname)
            OrganizationName("Relaygate self-signed")
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certificateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(5 * 365 * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(hostname)])
            },
            issuerPrivateKey: certificateKey)
        try FileManager.default.createDirectory(
            atPath: (certificatePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try writePrivately(key.pemRepresentation, to: keyPath)
        try writePrivately(try certificate.serializeAsPEM().pemString, to: certificatePath)
    }

    private static func writePrivately(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw TLSSetupError("cannot write \(temporary)") }
        guard rename(temporary, path) == 0 else { throw TLSSetupError("cannot rename \(temporary) to \(path)") }
    }
}

public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
