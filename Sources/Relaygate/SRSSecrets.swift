import Foundation
import Routing

/// The SRS keys: a file with one secret per line, the first of which signs and all of which verify, so a key
/// can be rotated (add the new one first, remove the old one once its bounces are older than `srs_max_age`).
/// Made with a random key on first start, readable by its owner only (0600).
public enum SRSSecrets {
    public static func load(path: String, create: Bool) throws -> [[UInt8]] {
        if !FileManager.default.fileExists(atPath: path) {
            guard create else { throw RulesLoadError("SRS secrets \(path) do not exist (serve makes them)") }
            try make(path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RulesLoadError("cannot read the SRS secrets \(path)")
        }
        let secrets = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { Array($0.utf8) }
        guard !secrets.isEmpty else { throw RulesLoadError("\(path) holds no SRS secret") }
        if let short = secrets.first(where: { $0.count < 16 }) {
            throw RulesLoadError("\(path): an SRS secret of \(short.count) characters is too short to protect; use 16 or more")
        }
        return secrets
    }

    private static func make(_ path: String) throws {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let line = "# SRS secrets: the first signs, all verify. Keep this file private.\n"
            + Data(bytes).base64EncodedString() + "\n"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw RulesLoadError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = line.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == line.utf8.count, fsync(fd) == 0 else {
            throw RulesLoadError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
