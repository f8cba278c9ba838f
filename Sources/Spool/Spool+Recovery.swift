import FileSupport
import MailModel

extension Spool {
    /// What recovery found, for the startup log.
    public struct RecoveryReport: Sendable, Equatable {
        /// Half-written files from tmp/ (never acknowledged), deleted.
        public var temporaryFilesRemoved = 0
        /// Envelopes a worker held when we stopped, put back in incoming/.
        public var requeued = 0
        /// Envelopes that do not parse or whose body is missing or the wrong size, moved to quarantine/.
        public var quarantined: [(name: String, reason: String)] = []
        /// Bodies without an envelope (a crash between the two renames: never acknowledged), deleted.
        public var orphanBodiesRemoved = 0
        /// Messages waiting for delivery after recovery.
        public var queued = 0

        public init() {}

        public static func == (lhs: RecoveryReport, rhs: RecoveryReport) -> Bool {
            lhs.temporaryFilesRemoved == rhs.temporaryFilesRemoved && lhs.requeued == rhs.requeued
                && lhs.quarantined.map(\.name) == rhs.quarantined.map(\.name)
                && lhs.orphanBodiesRemoved == rhs.orphanBodiesRemoved && lhs.queued == rhs.queued
        }
    }

    /// Brings the spool to a consistent state after a stop or a crash. It reuses the normal paths: it only
    /// deletes what was never acknowledged and moves everything else by rename. Run it before accepting
    /// connections or starting delivery, never while either runs.
    public func recover() throws -> RecoveryReport {
        var report = RecoveryReport()

        for name in try FileSystem.list(tmpDirectory) {
            FileSystem.remove(tmpDirectory + "/" + name)
            // Files kept for reuse are not news; only half-written ones are worth a count in the log.
            if !name.hasPrefix(FileRecycler.prefix) { report.temporaryFilesRemoved += 1 }
        }

        for name in try FileSystem.list(path(of: .active)) {
            try FileSystem.move(path(of: .active) + "/" + name, to: path(of: .incoming) + "/" + name)
            report.requeued += 1
        }

        var referenced = Set<String>()
        for queue in [Queue.incoming, .deferred, .hold] {
            for name in try FileSystem.list(path(of: queue)) {
                let envelopeFile = path(of: queue) + "/" + name
                if let reason = problem(withEnvelope: envelopeFile, named: name) {
                    try quarantine(name, envelopeFile: envelopeFile, reason: reason)
                    report.quarantined.append((name, reason))
                } else {
                    referenced.insert(name)
                    if queue != .hold { report.queued += 1 }
                }
            }
        }
        for name in try FileSystem.list(path(of: .quarantine))
        where !name.hasSuffix(".body") && !name.hasSuffix(Self.quarantineReasonSuffix) {
            referenced.insert(name)
        }

        for name in try FileSystem.list(bodyDirectory) where !referenced.contains(name) {
            FileSystem.remove(bodyDirectory + "/" + name)
            report.orphanBodiesRemoved += 1
        }

        for directory in [tmpDirectory, bodyDirectory] + Queue.allCases.map(path(of:)) {
            let fd = try FileSystem.openDirectory(directory)
            defer { FileSystem.closeDescriptor(fd) }
            try FileSystem.sync(fd, path: directory)
        }
        return report
    }

    /// Why this envelope cannot be delivered as it is, or nil if it is sound.
    private func problem(withEnvelope path: String, named name: String) -> String? {
        guard let id = QueueID(name) else { return "file name is not a queue ID" }
        if case .unsound(let reason) = inspect(envelopeAt: path, id: id) { return reason }
        return nil
    }

    enum Soundness {
        case sound(Envelope)
        case unsound(String)
    }

    /// The envelope at `path`, checked with its body: it parses, it names `id`, and the body holds exactly
    /// the content it gives. A body cut short would otherwise be found only after DATA, with the next hop's
    /// 354 in hand and no way to take the message back but to drop the connection, on every retry.
    func inspect(envelopeAt path: String, id: QueueID) -> Soundness {
        let envelope: Envelope
        do {
            envelope = try readEnvelope(at: path)
        } catch {
            return .unsound("\(error)")
        }
        guard envelope.queueID == id else { return .unsound("envelope names queue ID \(envelope.queueID)") }
        guard let size = EnvelopeFile.contentLength(at: bodyPath(id)) else { return .unsound("message body missing") }
        guard size == envelope.size else {
            return .unsound("message body is \(size) octets, envelope says \(envelope.size)")
        }
        return .sound(envelope)
    }

    /// Moves an envelope, and its body if there is one, to quarantine/ for a person to look at, with the
    /// reason beside it (`ID.reason`, which `queue list` and `queue show` print). Counted in `statistics`;
    /// the caller logs it. Quarantine is never silent.
    func quarantine(_ name: String, envelopeFile: String, reason: String) throws {
        let target = path(of: .quarantine) + "/" + name
        try FileSystem.move(envelopeFile, to: target)
        if FileSystem.exists(bodyDirectory + "/" + name) {
            try FileSystem.move(bodyDirectory + "/" + name, to: target + ".body")
        }
        try? FileSystem.replaceFile(target + Self.quarantineReasonSuffix, Array((reason + "\n").utf8))
        quarantineCount.add(1, ordering: .relaxed)
    }

    static let quarantineReasonSuffix = ".reason"

    /// Why a quarantined message is there, as recorded when it was moved.
    public func quarantineReason(_ id: QueueID) -> String? {
        let path = envelopePath(id, in: .quarantine) + Self.quarantineReasonSuffix
        guard let bytes = try? FileSystem.readFile(path, limit: 64 * 1024) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
