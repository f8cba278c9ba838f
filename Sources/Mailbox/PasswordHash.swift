import CCrypt

/// Password hashes in crypt(3) format, through libxcrypt: the formats of /etc/shadow and Dovecot.
///
/// Verifying accepts every method libxcrypt knows, so yescrypt (`$y$`), SHA-512-crypt (`$6$`), SHA-256-crypt
/// (`$5$`) and bcrypt (`$2b$`, `$2y$`, `$2a$`) all work. New hashes are yescrypt, Debian's default.
/// Dovecot's `{SCHEME}` prefixes (`{SHA512-CRYPT}`, `{BLF-CRYPT}`, `{CRYPT}`, ...) are accepted and ignored,
/// so a Dovecot passwd-file hash can be pasted in as it is.
public enum PasswordHash {
    /// crypt_rn's work area: `sizeof(struct crypt_data)`, which libxcrypt documents as exactly 32768 octets.
    private static let workAreaSize = 32768

    /// The hash without a Dovecot `{SCHEME}` prefix.
    public static func stripScheme(_ hash: String) -> String {
        guard hash.hasPrefix("{"), let close = hash.firstIndex(of: "}") else { return hash }
        return String(hash[hash.index(after: close)...])
    }

    /// Whether libxcrypt recognises this as a hash it can check (not a locked `!`/`*` entry, not garbage).
    public static func isSupported(_ hash: String) -> Bool {
        let setting = stripScheme(hash)
        guard setting.hasPrefix("$") else { return false }
        // LEGACY means "supported but no longer the preferred method" (SHA-256-crypt, MD5-crypt): still checkable.
        let verdict = crypt_checksalt(setting)
        return verdict == CRYPT_SALT_OK || verdict == CRYPT_SALT_METHOD_LEGACY
    }

    /// Checks a password against a hash, comparing in constant time.
    public static func verify(_ password: String, against hash: String) -> Bool {
        // crypt(3) reads a C string: "secret\0anything" would match "secret". No password holds a NUL.
        guard !password.utf8.contains(0) else { return false }
        let setting = stripScheme(hash)
        guard let computed = crypt(password, setting: setting) else { return false }
        return constantTimeEquals(Array(computed.utf8), Array(setting.utf8))
    }

    /// A new yescrypt hash of the password, with a fresh random salt from the system.
    public static func make(_ password: String) throws -> String {
        var salt = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn("$y$", 0, nil, 0, &salt, Int32(salt.count)) != nil else {
            throw PasswordHashError.saltGenerationFailed
        }
        let setting = String(decoding: salt.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let hash = crypt(password, setting: setting) else { throw PasswordHashError.hashingFailed }
        return hash
    }

    /// Checked for unknown users, so that a wrong name takes as long as a wrong password.
    public static let decoy: String = (try? make("decoy password \(UInt64.random(in: 0...UInt64.max))")) ?? "$y$"

    private static func crypt(_ password: String, setting: String) -> String? {
        let area = UnsafeMutableRawPointer.allocate(byteCount: workAreaSize, alignment: 16)
        area.initializeMemory(as: UInt8.self, repeating: 0, count: workAreaSize)
        defer {
            // The work area held the password: clear it before giving it back.
            area.initializeMemory(as: UInt8.self, repeating: 0, count: workAreaSize)
            area.deallocate()
        }
        guard let result = crypt_rn(password, setting, area, Int32(workAreaSize)) else { return nil }
        let text = String(cString: result)
        return text.hasPrefix("*") ? nil : text
    }

    private static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

public enum PasswordHashError: Error, CustomStringConvertible {
    case saltGenerationFailed
    case hashingFailed

    public var description: String {
        switch self {
        case .saltGenerationFailed: "could not generate a salt (is libxcrypt installed with yescrypt?)"
        case .hashingFailed: "could not hash the password"
        }
    }
}
