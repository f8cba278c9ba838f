import Foundation

/// The users file (default `rules/users`): one `name:hash` per line, hashes in crypt(3) format
/// (see `PasswordHash`). Lines starting with `#` and blank lines are ignored; fields after the hash are
/// kept for later use (per-user mailbox and sender addresses) and ignored today.
///
///     # relaygate users
///     alice:$y$j9T$...
///     bob:{SHA512-CRYPT}$6$...
///
/// Edited with `relaygate users add NAME`, which rewrites the file atomically (temp file, fsync, rename).
public struct UsersFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var hash: String
        public var line: Int
    }

    public let path: String
    public private(set) var entries: [Entry]
    /// The lines as read, so that comments survive an edit.
    private var lines: [String]

    /// An error with the file and line, worded for the operator.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let line: Int
        public let message: String
        public var description: String { "\(path):\(line): \(message)" }
    }

    public init(path: String, text: String) throws(ParseError) {
        self.path = path
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        if lines.last == "" { lines.removeLast() }
        self.entries = []
        var seen = Set<String>()
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 2 else {
                throw ParseError(path: path, line: index + 1, message: "expected name:hash")
            }
            let name = String(fields[0])
            let hash = String(fields[1])
            guard Self.isValidName(name) else {
                throw ParseError(path: path, line: index + 1, message: "bad user name \"\(name)\"")
            }
            guard seen.insert(name).inserted else {
                throw ParseError(path: path, line: index + 1, message: "user \(name) is listed twice")
            }
            guard PasswordHash.isSupported(hash) else {
                throw ParseError(
                    path: path, line: index + 1,
                    message: "user \(name): not a crypt(3) hash this system supports; "
                        + "make one with `relaygate users add \(name)`")
            }
            entries.append(Entry(name: name, hash: hash, line: index + 1))
        }
    }

    /// Reads the file; a missing file is an empty user list (no one can authenticate).
    public static func load(path: String) throws -> UsersFile {
        guard FileManager.default.fileExists(atPath: path) else { return try UsersFile(path: path, text: "") }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try UsersFile(path: path, text: text)
    }

    /// User names are what people type as a login: printable, no spaces, no colon, at most 255 octets.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255
            && name.unicodeScalars.allSatisfy { $0.value > 32 && $0.value != 127 && $0 != ":" }
    }

    public func hash(for name: String) -> String? {
        entries.first { $0.name == name }?.hash
    }

    /// Sets a user's hash, replacing its line in place or appending a new one.
    public mutating func set(_ name: String, hash: String) {
        let line = "\(name):\(hash)"
        if let existing = entries.firstIndex(where: { $0.name == name }) {
            lines[entries[existing].line - 1] = line
            entries[existing].hash = hash
        } else {
            lines.append(line)
            entries.append(Entry(name: name, hash: hash, line: lines.count))
        }
    }

    /// Removes a user; returns false if there was none.
    public mutating func remove(_ name: String) -> Bool {
        guard let existing = entries.firstIndex(where: { $0.name == name }) else { return false }
        let removed = entries.remove(at: existing)
        lines.remove(at: removed.line - 1)
        for index in entries.indices where entries[index].line > removed.line { entries[index].line -= 1 }
        return true
    }

    public var text: String { lines.map { $0 + "\n" }.joined() }

    /// Writes the file atomically with mode 0600: readers see the old file or the new one, never half.
    public func save() throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw UsersFileError.cannotWrite(temporary, errno) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            unlink(temporary)
            throw UsersFileError.cannotWrite(temporary, errno)
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw UsersFileError.cannotWrite(path, errno)
        }
    }
}

public enum UsersFileError: Error, CustomStringConvertible {
    case cannotWrite(String, Int32)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let code): "cannot write \(path): \(String(cString: strerror(code)))"
        }
    }
}
