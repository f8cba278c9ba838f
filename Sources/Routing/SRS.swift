import Crypto
import MailModel

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The Sender Rewriting Scheme, in the "guarded" form that postsrsd, libsrs2 and Mail::SRS write, so our
/// addresses verify in theirs and theirs in ours.
///
/// Forwarding `alice@example.org` through `shop.example` sends it as
/// `SRS0=HHHH=TT=example.org=alice@shop.example`: TT is today as two base32 characters (days since 1970,
/// modulo 1024), HHHH the first four base64 characters of HMAC-SHA1 over the lower-cased TT, domain and
/// local part. Forwarding an SRS0 address again makes `SRS1=HHHH=first-forwarder==HHHH=TT=domain=local@us`,
/// hashed over the first forwarder and the rest, so a bounce retraces both hops. The null sender is never
/// rewritten (see `Router`).
///
/// A bounce to an SRS address of ours is reversed only if its hash verifies with one of `secrets` (the
/// first signs; the others let a rotated-out key keep verifying) and, for SRS0, its timestamp is at most
/// `maxAgeDays` old. Hashes compare case-insensitively, as Mail::SRS does: some MTAs smash case.
public struct SRS: Sendable, CustomStringConvertible {
    /// Never the keys.
    public var description: String { "SRS(keys: \(secrets.count), max_age: \(maxAgeDays) days)" }

    public var secrets: [[UInt8]]
    public var maxAgeDays: Int
    public var hashLength: Int

    public init(secrets: [[UInt8]], maxAgeDays: Int = 21, hashLength: Int = 4) {
        precondition(!secrets.isEmpty, "SRS needs a secret")
        self.secrets = secrets
        self.maxAgeDays = maxAgeDays
        self.hashLength = hashLength
    }

    public enum ReverseError: Error, Equatable, CustomStringConvertible {
        case notSRS
        case malformed
        case badHash
        case expired

        public var description: String {
            switch self {
            case .notSRS: "not an SRS address"
            case .malformed: "malformed SRS address"
            case .badHash: "SRS hash does not verify (forged, or signed with a key we no longer have)"
            case .expired: "SRS address has expired"
            }
        }
    }

    /// Whether a local part is SRS-shaped (`SRS0` or `SRS1` and a separator), in any case.
    public static func isSRS(_ localPart: String) -> Bool {
        let prefix = localPart.prefix(5).uppercased()
        return (prefix.hasPrefix("SRS0") || prefix.hasPrefix("SRS1")) && prefix.count == 5
            && "=+-".contains(prefix.last!)
    }

    /// The sender to use when forwarding mail from `sender` through `forwardingDomain`.
    /// `day` is days since 1970 (UTC).
    ///
    /// A quoted local part (`"a b"@example.org`) is rewritten on its content, and the result is quoted when
    /// it is not a plain dot-string (`"SRS0=HHHH=TT=example.org=a b"@us`), so it is always an address the
    /// next hop's SMTP grammar accepts, and a bounce to it comes back to us.
    public func forward(_ sender: EmailAddress, through forwardingDomain: String, day: Int) -> EmailAddress {
        let local = sender.unquotedLocalPart
        let tag = local.prefix(4).uppercased()
        let newLocal: String
        if Self.isSRS(local) && tag == "SRS1" {
            // SRS1<sep>hash=host=rest: keep host and rest, sign them with our key.
            let fields = local.dropFirst(5).split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            if fields.count == 3 {
                let host = String(fields[1]), rest = String(fields[2])
                newLocal = "SRS1=" + [hash([host, rest]), host, rest].joined(separator: "=")
            } else {
                newLocal = srs0(local, sender.domain.name, day: day)
            }
        } else if Self.isSRS(local) && tag == "SRS0" {
            // SRS0<sep>...@host → SRS1=hash=host=<sep>...: the rest keeps the SRS0 separator.
            let host = sender.domain.name
            let rest = String(local.dropFirst(4))
            newLocal = "SRS1=" + [hash([host, rest]), host, rest].joined(separator: "=")
        } else {
            newLocal = srs0(local, sender.domain.name, day: day)
        }
        return EmailAddress(localPart: EmailAddress.localPart(quotingIfNeeded: newLocal), domain: Domain(forwardingDomain))
    }

    private func srs0(_ local: String, _ domain: String, day: Int) -> String {
        let stamp = Self.timestamp(day: day)
        return "SRS0=" + [hash([stamp, domain, local]), stamp, domain, local].joined(separator: "=")
    }

    /// Where a bounce to the SRS local part `local` (at one of our domains) goes back to: the original sender
    /// for SRS0, the first forwarder's SRS0 address for SRS1.
    public func reverse(_ quotedOrNot: String, day: Int) throws(ReverseError) -> EmailAddress {
        let local = EmailAddress.unquoted(quotedOrNot)
        guard Self.isSRS(local) else { throw .notSRS }
        let tag = local.prefix(4).uppercased()
        let body = local.dropFirst(5)
        if tag == "SRS0" {
            let fields = body.split(separator: "=", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4, !fields[2].isEmpty, !fields[3].isEmpty, fields[1].count == 2 else {
                throw .malformed
            }
            guard verify(fields[0], [fields[1], fields[2], fields[3]]) else { throw .badHash }
            guard let stamp = Self.day(fromTimestamp: fields[1]) else { throw .malformed }
            guard Self.isFresh(stamp: stamp, today: day, maxAge: maxAgeDays) else { throw .expired }
            return try address(local: fields[3], domain: fields[2])
        } else {
            let fields = body.split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, !fields[1].isEmpty, !fields[2].isEmpty else { throw .malformed }
            guard verify(fields[0], [fields[1], fields[2]]) else { throw .badHash }
            return try address(local: "SRS0" + fields[2], domain: fields[1])
        }
    }

    private func address(local: String, domain: String) throws(ReverseError) -> EmailAddress {
        let quoted = EmailAddress.localPart(quotingIfNeeded: local)
        guard let address = try? EmailAddress(parsing: quoted + "@" + domain) else { throw .malformed }
        return address
    }

    // MARK: Hash and timestamp

    func hash(_ fields: [String], secret: [UInt8]? = nil) -> String {
        var hmac = HMAC<Insecure.SHA1>(key: SymmetricKey(data: secret ?? secrets[0]))
        for field in fields { hmac.update(data: Array(field.lowercased().utf8)) }
        let digest = Data(hmac.finalize()).base64EncodedString()
        return String(digest.prefix(hashLength))
    }

    private func verify(_ given: String, _ fields: [String]) -> Bool {
        guard given.count >= hashLength else { return false }
        let candidates = secrets.map { String(hash(fields, secret: $0).prefix(given.count)) }
        return candidates.contains(given) || candidates.contains { $0.lowercased() == given.lowercased() }
    }

    private static let base32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    static func timestamp(day: Int) -> String {
        String([base32[(day >> 5) & 31], base32[day & 31]])
    }

    static func day(fromTimestamp text: String) -> Int? {
        var value = 0
        for character in text.uppercased() {
            guard let index = base32.firstIndex(of: character) else { return nil }
            value = value * 32 + index
        }
        return value
    }

    /// The timestamp holds the day modulo 1024: it is fresh when it is at most `maxAge` days before today,
    /// counting around the wrap, and never from the future.
    static func isFresh(stamp: Int, today: Int, maxAge: Int) -> Bool {
        var now = today % 1024
        while now < stamp { now += 1024 }
        return now - stamp <= maxAge
    }
}
