import FileSupport
import MailModel

#if canImport(Glibc)
    import Glibc
#endif

/// What delivery does to the spool, each step one atomic rename (DESIGN.md "The spool"):
///
///     incoming/ or deferred/ ──claim──▶ active/ ──record (outcomes)──▶ active/
///     active/ ──postpone──▶ deferred/        active/ ──finish──▶ (gone, body too)
///
/// An envelope's new state is written to tmp/, fsynced, renamed over the old one and the directory fsynced
/// before the call returns, so an outcome, once recorded, survives a crash; recovery puts whatever was in
/// active/ back into incoming/.
extension Spool {
    /// Takes an envelope for delivery. Nil when it is no longer there (an operator moved or deleted it).
    /// An envelope that cannot be read, or whose body is not the size it gives, is quarantined, and
    /// `Quarantined` thrown with the reason, for the caller to log. `known` is the envelope as this process
    /// stored it, when it has it: then the file is not read back.
    public func claim(_ id: QueueID, from queue: Queue, known: Envelope? = nil) throws -> Envelope? {
        let active = envelopePath(id, in: .active)
        do {
            try FileSystem.move(envelopePath(id, in: queue), to: active)
        } catch  where error.code == ENOENT {
            return nil
        }
        if let known { return known }
        return try readOrQuarantine(id, at: active)
    }

    /// The envelope at `path` in active/, or, when it or its body is unsound (`inspect`), `Quarantined` after
    /// moving it there.
    private func readOrQuarantine(_ id: QueueID, at path: String) throws -> Envelope {
        switch inspect(envelopeAt: path, id: id) {
        case .sound(let envelope):
            return envelope
        case .unsound(let reason):
            try quarantine(id.rawValue, envelopeFile: path, reason: reason)
            throw Quarantined(queueID: id, reason: reason, directory: self.path(of: .quarantine))
        }
    }

    /// A message moved to quarantine/ because its envelope could not be read.
    public struct Quarantined: Error, CustomStringConvertible, Sendable {
        public let queueID: QueueID
        public let reason: String
        public let directory: String
        public var description: String { "\(queueID) quarantined: \(reason)" }
    }

    /// Writes the envelope's new state (recipient outcomes, attempts) over its file in active/, durably. The
    /// envelope then has a file of its own, no longer a link to its body (`EnvelopeFile`).
    public func record(_ envelope: Envelope) throws {
        let record = EnvelopeFile.standalone(try EnvelopeCodec.encode(envelope))
        let temporary = tmpDirectory + "/" + envelope.queueID.rawValue + ".update"
        FileSystem.remove(temporary)
        let fd = try FileSystem.createExclusive(temporary)
        do {
            defer { FileSystem.closeDescriptor(fd) }
            try record.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: temporary) }
            try FileSystem.dataSync(fd, path: temporary)
        } catch {
            FileSystem.remove(temporary)
            throw error
        }
        try FileSystem.move(temporary, to: envelopePath(envelope.queueID, in: .active))
        try activeSync.syncAfterNow()
    }

    /// Puts an active envelope back until its next attempt (recorded in it first, with `record`).
    public func postpone(_ id: QueueID) throws {
        try FileSystem.move(envelopePath(id, in: .active), to: envelopePath(id, in: .deferred))
        try deferredSync.syncAfterNow()
    }

    /// Moves an active envelope back to incoming/, to be tried again at once (an operator's retry, a stop).
    public func release(_ id: QueueID) throws {
        try FileSystem.move(envelopePath(id, in: .active), to: envelopePath(id, in: .incoming))
    }

    /// Every recipient is final: the messages leave the spool. Envelopes go first, so a crash between the
    /// two leaves an orphan body, which recovery deletes, never an envelope without its body.
    public func finish(_ ids: [QueueID]) throws {
        retireEnvelopes(ids)
        try completeFinish(ids)
    }

    /// The first half of `finish`: the envelopes leave active/. Against a killed process that is already
    /// the mark (the kernel has the rename); against power loss it needs `completeFinish`'s fsync. Split so
    /// delivery can make the mark the moment a 250 arrives, and share the fsyncs later. Doing it twice is
    /// harmless: the second finds nothing to remove.
    public func retireEnvelopes(_ ids: [QueueID]) {
        for id in ids { recycler.retire(envelopePath(id, in: .active)) }
    }

    /// The second half of `finish`: the removals made durable, then the bodies removed.
    public func completeFinish(_ ids: [QueueID]) throws {
        // The removals must be durable before we rely on them; they share one fsync, and concurrent
        // finishes share it too.
        try activeSync.syncAfterNow()
        for id in ids { recycler.retire(bodyPath(id)) }
    }

    /// The IDs in a queue directory, oldest first (queue IDs sort by arrival).
    public func ids(in queue: Queue) -> [QueueID] {
        ((try? FileSystem.list(path(of: queue))) ?? []).compactMap(QueueID.init).sorted()
    }

    /// The envelope in a queue directory, read without claiming it.
    public func peek(_ id: QueueID, in queue: Queue) -> Envelope? {
        try? readEnvelope(at: envelopePath(id, in: queue))
    }
}
