import FileSupport
import Foundation
import MailModel

/// Something an operator did to a message with a `relaygate queue` command (retry, hold, release, delete,
/// bounce). The command runs in its own process, with its own standard error; the server's log is
/// elsewhere (journald, a file). So the command leaves the action in the spool's `operator/` directory, and
/// the running server logs it with the queue ID and removes it (or the next one to start does): searching
/// the server's log for a queue ID then tells the message's whole story.
public struct OperatorAction: Codable, Sendable, Equatable {
    public var action: String
    public var queueID: QueueID
    /// Who ran the command: the login name, with the sudo user when there was one.
    public var user: String
    public var pid: Int32
    /// Seconds since 1970.
    public var time: Double
    /// What came of it, when there is more to say (`dsn=ID` for a bounce).
    public var detail: String?

    public init(action: String, queueID: QueueID, user: String, pid: Int32, time: Double, detail: String? = nil) {
        self.action = action
        self.queueID = queueID
        self.user = user
        self.pid = pid
        self.time = time
        self.detail = detail
    }
}

extension Spool {
    static let operatorDirectoryName = "operator"
    var operatorDirectory: String { directory + "/" + Self.operatorDirectoryName }

    /// Leaves `action` for the server's log: written in tmp/, then renamed into operator/, so the server
    /// never reads half a record. It is a log entry, not mail: no fsync.
    public func record(_ action: OperatorAction) throws {
        try FileSystem.makeDirectory(operatorDirectory)
        let name = "\(Int(action.time * 1000)).\(action.pid).\(UUID().uuidString)"
        let temporary = tmpDirectory + "/operator." + name
        let data = try JSONEncoder().encode(action)
        let fd = try FileSystem.createExclusive(temporary)
        defer { FileSystem.closeDescriptor(fd) }
        try FileSystem.writeAll(fd, Array(data), path: temporary)
        try FileSystem.move(temporary, to: operatorDirectory + "/" + name)
    }

    /// The actions waiting to be logged, oldest first, removed from the spool as they are read. A file
    /// that does not parse is removed too, and reported as such, so it cannot be logged for ever.
    public func takeOperatorActions() -> [Result<OperatorAction, OperatorRecordError>] {
        let names = ((try? FileSystem.list(operatorDirectory)) ?? []).sorted()
        return names.map { name in
            let path = operatorDirectory + "/" + name
            defer { FileSystem.remove(path) }
            guard let bytes = try? FileSystem.readFile(path, limit: 64 * 1024),
                let action = try? JSONDecoder().decode(OperatorAction.self, from: Data(bytes))
            else { return .failure(OperatorRecordError(path: path)) }
            return .success(action)
        }
    }
}

/// An operator record that could not be read.
public struct OperatorRecordError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public var description: String { "unreadable operator record \(path)" }
}
