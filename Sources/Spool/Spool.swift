import FileSupport
import MailModel
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The durable on-disk queue: what we said 250 to, we deliver.
///
/// A message is its body in `queue/ID`, immutable once committed, and its envelope, whose place says its
/// state. Every state change is one atomic rename (the Postfix and qmail shape):
///
///     tmp/          being written, and finished files kept for reuse (`FileRecycler`); emptied at start
///     queue/        message bodies, by queue ID
///     incoming/     envelopes: durable, not yet picked up
///     active/       envelopes a delivery worker holds; moved back to incoming/ at start
///     deferred/     envelopes waiting for their next attempt
///     hold/         set aside by an operator
///     quarantine/   could not be parsed: kept for a person, never retried blindly
///
/// Commit (see `SpoolMessageWriter.commit`): the content and, after it, the envelope are written to one
/// file in tmp/ and fdatasynced; it is renamed into queue/ and hard-linked into incoming/ (`EnvelopeFile`
/// says how the envelope is found in it), and both directories are fsynced — shared between concurrent
/// commits by `DirectorySync` — before the caller may say 250. When delivery records an outcome, the
/// envelope gets a file of its own.
///
/// The API is blocking and thread-safe; callers run it off their event loops.
public final class Spool: Sendable {
    /// The directories an envelope can be in.
    public enum Queue: String, Sendable, CaseIterable {
        case incoming, active, deferred, hold, quarantine
    }

    public let directory: String
    /// Below this much free space, new messages are refused with 452 4.3.1 before they are sent.
    public let minimumFreeSpace: Int
    let directorySync: DirectorySync
    /// Delivery's own group commit: many finished messages share one fsync of active/.
    let activeSync: DirectorySync
    /// Postponements share their fsyncs of deferred/ as well.
    let deferredSync: DirectorySync
    let commitCount = Atomic<Int>(0)
    let quarantineCount = Atomic<Int>(0)
    let recycler: FileRecycler

    var tmpDirectory: String { directory + "/tmp" }
    var bodyDirectory: String { directory + "/queue" }

    /// Opens the spool at `directory`, creating its layout if needed (or, with `create: false`, failing
    /// when it is not there, for tools that only look).
    public init(directory: String, minimumFreeSpace: Int = 64 * 1024 * 1024, create: Bool = true) throws {
        self.directory = directory
        self.minimumFreeSpace = minimumFreeSpace
        if create {
            try FileSystem.makeDirectory(directory)
            for name in ["tmp", "queue", Self.operatorDirectoryName] + Queue.allCases.map(\.rawValue) {
                try FileSystem.makeDirectory(directory + "/" + name)
            }
        }
        directorySync = try DirectorySync(paths: [
            directory + "/queue", directory + "/" + Queue.incoming.rawValue,
        ])
        deferredSync = try DirectorySync(paths: [directory + "/" + Queue.deferred.rawValue])
        activeSync = try DirectorySync(paths: [directory + "/" + Queue.active.rawValue])
        recycler = FileRecycler(directory: directory + "/tmp")
    }

    public func path(of queue: Queue) -> String { directory + "/" + queue.rawValue }
    public func envelopePath(_ id: QueueID, in queue: Queue) -> String { path(of: queue) + "/" + id.rawValue }
    public func bodyPath(_ id: QueueID) -> String { bodyDirectory + "/" + id.rawValue }

    /// Whether a message of this size (or of unknown size) can be taken without running the disk low.
    /// Blocking: asks the file system.
    public func hasRoom(forDeclaredSize size: Int?) -> Bool {
        hasRoom(forDeclaredSize: size, available: availableSpace())
    }

    /// The same decision from a free-space figure taken earlier (nil when unknown: then yes).
    public func hasRoom(forDeclaredSize size: Int?, available: Int?) -> Bool {
        guard let available else { return true }
        return available - (size ?? 0) >= minimumFreeSpace
    }

    /// Octets an unprivileged writer may still use on the spool's file system. Blocking.
    public func availableSpace() -> Int? { FileSystem.availableSpace(directory) }

    /// Messages committed and directory syncs made since this spool was opened: with concurrent clients the
    /// second is smaller, because commits share syncs.
    public var statistics: (commits: Int, directorySyncs: Int, quarantined: Int) {
        (commitCount.load(ordering: .relaxed), directorySync.syncsCompleted, quarantineCount.load(ordering: .relaxed))
    }

    /// Starts writing a new message.
    public func makeWriter(for queueID: QueueID) -> SpoolMessageWriter {
        SpoolMessageWriter(spool: self, queueID: queueID)
    }

    /// One queued message as `queue list` shows it.
    public struct Entry: Sendable {
        public let queueID: QueueID
        public let queue: Queue
        /// Nil when the envelope could not be read; `problem` says why.
        public let envelope: Envelope?
        public let problem: String?

        public init(queueID: QueueID, queue: Queue, envelope: Envelope?, problem: String?) {
            self.queueID = queueID
            self.queue = queue
            self.envelope = envelope
            self.problem = problem
        }
    }

    /// Every envelope in the spool, oldest first. A file that vanishes between listing and reading (a worker
    /// moved it) is left out of this snapshot; it may show up under the queue it moved to, or not at all.
    public func entries(in queues: [Queue] = Queue.allCases) -> [Entry] {
        var result: [Entry] = []
        for queue in queues {
            let names = (try? FileSystem.list(path(of: queue))) ?? []
            for name in names {
                guard let id = QueueID(name) else { continue }
                if let entry = entry(id, in: queue) { result.append(entry) }
            }
        }
        return result.sorted { $0.queueID < $1.queueID }
    }

    /// The envelope of one message, wherever it is.
    public func entry(_ id: QueueID) -> Entry? {
        for queue in Queue.allCases {
            if let entry = entry(id, in: queue) { return entry }
        }
        return nil
    }

    private func entry(_ id: QueueID, in queue: Queue) -> Entry? {
        let bytes: [UInt8]
        do {
            bytes = try EnvelopeFile.record(at: envelopePath(id, in: queue))
        } catch {
            return nil
        }
        // A quarantined message says why it is there, whether or not its envelope reads now.
        let reason = queue == .quarantine ? quarantineReason(id).map { "quarantined: " + $0 } ?? "quarantined" : nil
        do {
            return Entry(queueID: id, queue: queue, envelope: try EnvelopeCodec.decode(bytes), problem: reason)
        } catch {
            return Entry(queueID: id, queue: queue, envelope: nil, problem: reason ?? error.description)
        }
    }

    /// The envelope in the file at `path`, wherever in the file it is (`EnvelopeFile`).
    func readEnvelope(at path: String) throws -> Envelope {
        try EnvelopeCodec.decode(EnvelopeFile.record(at: path))
    }

    /// A queued message's content, whole (for tools and tests; delivery streams it). Its body file may
    /// hold more after the content (`EnvelopeFile`); this is only the message.
    public func content(of envelope: Envelope) throws -> [UInt8] {
        try content(for: envelope).bytes()
    }
}
