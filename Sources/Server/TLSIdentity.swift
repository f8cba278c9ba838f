import Crypto
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

    /// Loads a PEM chain (leaf first) and its PEM key.
    public static func load(certificate: String, key: String) throws -> TLSIdentity {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw TLSSetupError("cannot read the TLS certificate \(certificate) (\(error)); it must be a PEM chain")
        }
        guard !chain.isEmpty else { throw TLSSetupError("no certificate in \(certificate)") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw TLSSetupError("cannot read the TLS key \(key) (\(error)); it must be an unencrypted PEM key")
        }
        return TLSIdentity(
            certificateChain: chain, privateKey: privateKey, source: .configured(certificate: certificate, key: key))
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
