import FileSupport
import MailModel

#if canImport(Glibc)
    import Glibc
#endif

/// A message's content as delivery reads it: `length` octets from the start of a file. The spool hands
/// these out (`Spool.content(for:)`); which file that is, and what else it holds after the content (the
/// envelope record, `EnvelopeFile`), stay the spool's business.
public struct MessageContent: Sendable {
    public let length: Int
    private let path: String

    /// Content that is a file of its own, whole or its first `length` octets (`relay-test`'s message).
    public init(file path: String, length: Int) {
        self.path = path
        self.length = length
    }

    /// A read-only descriptor positioned at the content's first octet; the reader takes `length` octets
    /// and closes it. Blocking (a pool thread). A file shorter than `length` throws: a damaged queued
    /// message is never sent cut short.
    public func openDescriptor() throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try FileSystem.check(fd, "open", path)
        do {
            let size = try FileSystem.size(of: fd, path: path)
            guard size >= length else { throw ShortContent(path: path, length: length, size: size) }
            return fd
        } catch {
            FileSystem.closeDescriptor(fd)
            throw error
        }
    }

    /// The content's first `limit` octets at most (blocking): what a bounce quotes.
    public func prefix(_ limit: Int) throws -> [UInt8] {
        let fd = try openDescriptor()
        defer { FileSystem.closeDescriptor(fd) }
        return try FileSystem.readRange(fd, from: 0, count: min(limit, length), path: path)
    }

    /// The whole content (blocking; for tools and tests, as delivery streams it).
    public func bytes() throws -> [UInt8] { try prefix(length) }
}

/// The queued file holds less than the envelope's size.
public struct ShortContent: Error, CustomStringConvertible {
    public let path: String
    public let length: Int
    public let size: Int
    public var description: String { "\(path) holds \(size) octets, fewer than the \(length) its envelope gives" }
}

extension Spool {
    /// The content of a queued message.
    public func content(for envelope: Envelope) -> MessageContent {
        MessageContent(file: bodyPath(envelope.queueID), length: envelope.size)
    }
}
