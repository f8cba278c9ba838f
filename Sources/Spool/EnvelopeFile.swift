import FileSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Where an envelope's record sits in a spool file.
///
/// At intake a message is one file: its content, then its envelope record (`EnvelopeCodec`), then a
/// footer giving the record's offset. The file is renamed into queue/ and hard-linked into incoming/, so
/// the envelope's place still says its state (every later step renames the link) while a commit costs one
/// new file, one fdatasync and one rename instead of two of each. When delivery records outcomes, the
/// envelope's link is replaced by a file of its own: the record, then a footer giving offset 0.
///
///     queue/ID ═ incoming/ID    content · record · "\nrelaygate-envelope-at=0000000000001024\n"
///     active/ID (rewritten)     record · "\nrelaygate-envelope-at=0000000000000000\n"
///
/// A file's last octets are always ours, so content a client sent can never pass for a footer. The
/// content is the first `Envelope.size` octets of queue/ID. A file without a footer is read whole as the
/// record: that is how spools written before footers existed hold their envelopes.
enum EnvelopeFile {
    static let footerPrefix = Array("\nrelaygate-envelope-at=".utf8)
    static let offsetDigits = 16
    static let footerLength = footerPrefix.count + offsetDigits + 1

    /// The footer for a record that starts at `offset`.
    static func footer(recordAt offset: Int) -> [UInt8] {
        let digits = String(offset)
        return footerPrefix + Array((String(repeating: "0", count: offsetDigits - digits.count) + digits).utf8)
            + [UInt8(ascii: "\n")]
    }

    /// A record alone in its file (an envelope delivery rewrote).
    static func standalone(_ record: [UInt8]) -> [UInt8] { record + footer(recordAt: 0) }

    /// The envelope record in the file at `path`.
    static func record(at path: String) throws(FileSystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try FileSystem.check(fd, "open", path)
        defer { FileSystem.closeDescriptor(fd) }
        let size = try FileSystem.size(of: fd, path: path)
        if let offset = try recordOffset(fd, size: size, path: path) {
            return try FileSystem.readRange(fd, from: offset, count: size - footerLength - offset, path: path)
        }
        return try FileSystem.readRange(fd, from: 0, count: min(size, legacyLimit), path: path)
    }

    /// How long the content of the queue/ file at `path` is: up to its envelope record, or the whole file
    /// when it has none. Nil when the file is not there.
    static func contentLength(at path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { FileSystem.closeDescriptor(fd) }
        guard let size = try? FileSystem.size(of: fd, path: path) else { return nil }
        return ((try? recordOffset(fd, size: size, path: path)) ?? nil) ?? size
    }

    /// A record without a footer is never this large; past it the file is not an envelope.
    private static let legacyLimit = 16 * 1024 * 1024

    /// The offset the file's footer gives, or nil when it has none.
    private static func recordOffset(_ fd: Int32, size: Int, path: String) throws(FileSystemError) -> Int? {
        guard size >= footerLength else { return nil }
        let footer = try FileSystem.readRange(fd, from: size - footerLength, count: footerLength, path: path)
        guard footer.count == footerLength, footer.starts(with: footerPrefix), footer.last == UInt8(ascii: "\n")
        else { return nil }
        let digits = footer[footerPrefix.count..<(footerLength - 1)]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let offset = Int(String(decoding: digits, as: UTF8.self)), offset <= size - footerLength
        else { return nil }
        return offset
    }
}
