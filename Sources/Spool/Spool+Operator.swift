import FileSupport
import MailModel

#if canImport(Glibc)
    import Glibc
#endif

/// The operator's queue commands. Each is one rename of the envelope, so it either happens whole or not at
/// all, and races with the delivery scheduler (which also only renames) cannot corrupt an entry: whoever
/// renames first owns the file, the other finds it gone. A message being delivered right now (in active/)
/// is not touched: the command says so and can be repeated a moment later.
extension Spool {
    /// Why a command could not act on a message: where the message is instead, in the operator's words.
    public enum OperatorError: Error, CustomStringConvertible, Equatable {
        case notFound(QueueID)
        case beingDelivered(QueueID)
        /// It is in hold/, and this command does not act on held messages.
        case held(QueueID)
        /// `release` of a message that is not held: it waits in `queue` (incoming or deferred).
        case notHeld(QueueID, waitingIn: Queue)
        case quarantined(QueueID)

        public var description: String {
            switch self {
            case .notFound(let id): "no message \(id) in the queue"
            case .beingDelivered(let id): "\(id) is being delivered right now; try again in a moment"
            case .held(let id): "\(id) is held; `relaygate queue release \(id)` lets it be delivered"
            case .notHeld(let id, let queue): "\(id) is not held (it is \(queue == .deferred ? "deferred" : "waiting for delivery"))"
            case .quarantined(let id):
                "\(id) is in quarantine (its envelope could not be read); see `relaygate queue list`"
            }
        }
    }

    /// Moves a message from the first of `sources` that holds it to `target`; returns where it was. A
    /// message already in `target`, when `target` is one of `sources`, stays where it is.
    @discardableResult
    public func move(_ id: QueueID, from sources: [Queue], to target: Queue) throws -> Queue {
        do {
            return try move(id, from: sources.filter { $0 != target }, toPath: envelopePath(id, in: target))
        } catch OperatorError.notFound(id) where sources.contains(target) && FileSystem.exists(envelopePath(id, in: target)) {
            return target
        }
    }

    /// Removes a waiting message (incoming, deferred or held) from the spool for good.
    public func delete(_ id: QueueID) throws {
        let doomed = tmpDirectory + "/" + id.rawValue + ".deleted"
        try move(id, from: [.incoming, .deferred, .hold], toPath: doomed)
        FileSystem.remove(doomed)
        FileSystem.remove(bodyPath(id))
    }

    /// Takes a waiting message for the operator's own handling (a bounce): it goes to active/, where the
    /// scheduler never looks, and recovery would put it back if the command died.
    public func takeForOperator(_ id: QueueID) throws -> Envelope {
        try move(id, from: [.incoming, .deferred, .hold], to: .active)
        let path = envelopePath(id, in: .active)
        return try readEnvelope(at: path)
    }

    /// The one rename behind every command: from the first of `sources` that holds the envelope.
    @discardableResult
    private func move(_ id: QueueID, from sources: [Queue], toPath target: String) throws -> Queue {
        for source in sources where try renameIfPresent(envelopePath(id, in: source), to: target) {
            return source
        }
        throw whyNot(id, from: sources)
    }

    /// Where a message is that none of `sources` holds, as the error to report.
    private func whyNot(_ id: QueueID, from sources: [Queue]) -> OperatorError {
        let exists = { (queue: Queue) in FileSystem.exists(self.envelopePath(id, in: queue)) }
        if exists(.active) { return .beingDelivered(id) }
        if exists(.hold) { return .held(id) }
        if exists(.quarantine) { return .quarantined(id) }
        if sources == [.hold], let waiting = [Queue.incoming, .deferred].first(where: exists) {
            return .notHeld(id, waitingIn: waiting)
        }
        return .notFound(id)
    }

    /// False when `from` is not there (someone else moved it first).
    private func renameIfPresent(_ from: String, to: String) throws -> Bool {
        guard rename(from, to) == 0 else {
            if errno == ENOENT { return false }
            throw SpoolError(operation: "rename to \(to)", path: from, code: errno)
        }
        return true
    }
}
