import FileSupport
import Foundation
import MailModel

/// The users file (default `rules/users`): one `name:hash[:setting...]` per line, hashes in crypt(3) format
/// (see `PasswordHash`). Lines starting with `#` and blank lines are ignored. Settings after the hash:
/// - `mailbox=NAME`: the mailbox (`mailbox:NAME` in the rules) the user reads over POP3 and IMAP. Without
///   it, a user whose name is a valid mailbox name reads the mailbox of that name.
/// - `send_as=ADDRESS,...`: the envelope senders the user may use over SMTP AUTH; `*@example.org` allows
///   a whole domain. Without it, any sender.
///
///     # relaygate users
///     alice:$y$j9T$...
///     bob:{SHA512-CRYPT}$6$...:mailbox=sales:send_as=bob@example.org,sales@example.org
///
/// Edited with `relaygate users add NAME`, which rewrites the file atomically (temp file, fsync, rename).
public struct UsersFile: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var hash: String
        public var line: Int
        /// `mailbox=`, if set.
        public var mailbox: String?
        /// `send_as=`, lower-cased; empty when any sender is allowed.
        public var sendAs: [String] = []
        /// The settings as written, kept when the password changes.
        var settings: [String] = []

        /// The mailbox the user reads: `mailbox=`, else the user's own name if it is a valid mailbox name.
        public var readsMailbox: String? {
            mailbox ?? (Route.isValidMailboxName(name) ? name : nil)
        }

        /// Whether the user may send with this envelope sender (compared case-insensitively).
        public func maySend(as address: String) -> Bool {
            guard !sendAs.isEmpty else { return true }
            let address = address.lowercased()
            let domain = address.split(separator: "@").last.map { "*@" + $0 }
            return sendAs.contains { $0 == address || $0 == domain }
        }
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
            var entry = Entry(name: name, hash: hash, line: index + 1)
            for setting in fields.dropFirst(2) {
                try entry.apply(String(setting), path: path, line: index + 1)
            }
            entries.append(entry)
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
        entry(for: name)?.hash
    }

    public func entry(for name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// Sets a user's hash, replacing its line in place (settings kept) or appending a new one.
    public mutating func set(_ name: String, hash: String) {
        if let existing = entries.firstIndex(where: { $0.name == name }) {
            lines[entries[existing].line - 1] = ([name, hash] + entries[existing].settings).joined(separator: ":")
            entries[existing].hash = hash
        } else {
            lines.append("\(name):\(hash)")
            entries.append(Entry(name: name, hash: hash, line: lines.count))
        }
    }

    /// Sets a user's `mailbox=` or `send_as=` (nil clears it), checked as if it were read from the file.
    /// The user must exist (`set(_:hash:)` first).
    public mutating func setSetting(_ key: String, to value: String?, for name: String) throws(ParseError) {
        guard let index = entries.firstIndex(where: { $0.name == name }) else {
            throw ParseError(path: path, line: lines.count, message: "no user \(name)")
        }
        // `:` separates the fields of a line: a value holding one would not read back.
        if let value, value.contains(":") || value.contains(where: \.isNewline) {
            throw ParseError(
                path: path, line: entries[index].line,
                message: "user \(name): \(key)=\(value): a colon or line break cannot be stored in the users file")
        }
        var entry = entries[index]
        let kept = entry.settings.filter { !$0.hasPrefix(key + "=") }
        entry.settings = []
        entry.mailbox = nil
        entry.sendAs = []
        for setting in kept + (value.map { [key + "=" + $0] } ?? []) {
            try entry.apply(setting, path: path, line: entry.line)
        }
        entries[index] = entry
        lines[entry.line - 1] = ([entry.name, entry.hash] + entry.settings).joined(separator: ":")
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
        try FileSystem.replaceFile(path, Array(text.utf8))
    }
}
extension UsersFile.Entry {
    mutating func apply(_ setting: String, path: String, line: Int) throws(UsersFile.ParseError) {
        let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
        func problem(_ message: String) -> UsersFile.ParseError {
            UsersFile.ParseError(path: path, line: line, message: "user \(name): \(message)")
        }
        guard parts.count == 2 else { throw problem("expected mailbox=NAME or send_as=ADDRESS,..., not \"\(setting)\"") }
        switch parts[0] {
        case "mailbox":
            guard Route.isValidMailboxName(parts[1]) else {
                throw problem("mailbox=\(parts[1]): a mailbox name is letters, digits, '.', '_' and '-'")
            }
            mailbox = parts[1]
        case "send_as":
            let addresses = parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            for address in addresses {
                let domain = address.hasPrefix("*@") ? String(address.dropFirst(2)) : nil
                let valid = domain.map { (try? Domain(validating: $0)) != nil } ?? ((try? EmailAddress(parsing: address)) != nil)
                guard valid else {
                    throw problem("send_as: \(address) is not an address or *@domain")
                }
            }
            sendAs = addresses
        default:
            throw problem("unknown setting \(parts[0]) (known: mailbox, send_as)")
        }
        settings.append(setting)
    }
}
