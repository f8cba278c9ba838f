import Logging
import ServiceLifecycle
import Spool

/// Puts what `relaygate queue` commands did (`OperatorAction`, left in the spool by the command) into the
/// server's log, each line with its queue ID, once every `interval` and at start (for what was done while
/// the server was stopped). `grep queue_id=ID` then shows a hold, a release or a bounce beside the
/// message's own lines.
struct OperatorActionLog: Service {
    let spool: Spool
    let interval: Duration
    let logger: Logger

    func run() async throws {
        // A stop ends the wait at once (the sleep is cancelled), and what is left is logged.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                logPending()
                try await Task.sleep(for: interval)
            }
        }
        logPending()
    }

    func logPending() {
        for record in spool.takeOperatorActions() {
            switch record {
            case .success(let action):
                var metadata: Logger.Metadata = [
                    "queue_id": "\(action.queueID)", "action": "\(action.action)", "user": "\(action.user)",
                    "pid": "\(action.pid)",
                    "at": "\(KeyValueLogHandler.timestamp(seconds: Int(action.time), milliseconds: Int(action.time * 1000) % 1000))",
                ]
                if let detail = action.detail { metadata["detail"] = "\(detail)" }
                logger.notice("queue command", metadata: metadata)
            case .failure(let error):
                logger.warning("operator record removed unread", metadata: ["error": "\(error)"])
            }
        }
    }
}
