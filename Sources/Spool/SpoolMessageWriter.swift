import FileSupport
import MailModel
import Synchronization

/// Writes one incoming message into the spool: content as it arrives, then `commit` makes it durable, or
/// `discard` drops it. Safe to hand between threads; callers use it from one task at a time.
public final class SpoolMessageWriter: Sendable {
    public let queueID: QueueID
    private let spool: Spool
    private let state = Mutex(State())

    private struct State {
        var fd: Int32?
        var written = 0
        var finished = false
    }

    init(spool: Spool, queueID: QueueID) {
        self.spool = spool
        self.queueID = queueID
    }

    deinit {
        // A writer dropped without commit or discard (a connection that died mid-message) leaves nothing.
        state.withLock { state in
            if !state.finished, let fd = state.fd {
                FileSystem.closeDescriptor(fd)
                FileSystem.remove(tmpBodyPath)
            }
        }
    }

    private var tmpBodyPath: String { spool.tmpDirectory + "/" + queueID.rawValue }

    public var bytesWritten: Int { state.withLock { $0.written } }

    /// Appends content to the body file in tmp/.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try state.withLock { state in
            precondition(!state.finished, "write after commit or discard")
            let fd = try state.fd ?? spool.recycler.create(tmpBodyPath)
            state.fd = fd
            try FileSystem.writeAll(fd, bytes, path: tmpBodyPath)
            state.written += bytes.count
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Makes the message durable: only when this returns may the client be told 250. The envelope is written
    /// as it is, so its size must be the octets written; one that is not is refused (`SizeMismatch`) rather
    /// than stored with a size recovery would quarantine. On failure nothing of the message stays in the
    /// spool, so the client's retry cannot make a duplicate.
    public func commit(_ envelope: Envelope) throws {
        try state.withLock { state in try commit(envelope, &state) }
    }

    private func commit(_ envelope: Envelope, _ state: inout State) throws {
        precondition(!state.finished, "commit after commit or discard")
        state.finished = true
        guard envelope.size == state.written else {
            if let fd = state.fd { FileSystem.closeDescriptor(fd) }
            state.fd = nil
            FileSystem.remove(tmpBodyPath)
            throw SizeMismatch(queueID: queueID, envelopeSize: envelope.size, written: state.written)
        }
        let bodyPath = spool.bodyPath(queueID)
        let envelopePath = spool.envelopePath(queueID, in: .incoming)
        // What this commit has put in place so far: on failure exactly that is taken back, nothing else.
        var created: [String] = []
        do {
            let fd = try state.fd ?? spool.recycler.create(tmpBodyPath)
            state.fd = nil
            created.append(tmpBodyPath)
            defer { FileSystem.closeDescriptor(fd) }
            // One file: the content, then the envelope after it (`EnvelopeFile`).
            let record = try EnvelopeCodec.encode(envelope) + EnvelopeFile.footer(recordAt: state.written)
            try FileSystem.writeAll(fd, record, path: tmpBodyPath)
            try FileSystem.dataSync(fd, path: tmpBodyPath)

            // Into queue/ first: an envelope in incoming/ always has its body.
            try FileSystem.move(tmpBodyPath, to: bodyPath)
            created[0] = bodyPath
            try FileSystem.hardLink(bodyPath, as: envelopePath)
            created.append(envelopePath)
            try spool.directorySync.syncAfterNow()
            spool.commitCount.add(1, ordering: .relaxed)
        } catch {
            // The envelope goes first, so a crash half-way through never leaves an envelope without its body.
            for path in created.reversed() { FileSystem.remove(path) }
            throw error
        }
    }

    /// Drops the message: it was refused, or the client went away.
    public func discard() {
        state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            if let fd = state.fd { FileSystem.closeDescriptor(fd) }
            state.fd = nil
            FileSystem.remove(tmpBodyPath)
        }
    }
}

/// An envelope whose size is not what was written: a defect in whoever built it, never the client's fault.
public struct SizeMismatch: Error, CustomStringConvertible {
    public let queueID: QueueID
    public let envelopeSize: Int
    public let written: Int
    public var description: String {
        "message \(queueID): its envelope gives \(envelopeSize) octets but \(written) were written; not queued"
    }
}
