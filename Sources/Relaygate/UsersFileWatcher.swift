import Logging
import Mailbox
import ServiceLifecycle

/// Looks at the users file every `interval`, off the event loops, so the answers sessions get from the
/// cached copy (`PasswordVerifier`) follow `relaygate users add` and hand edits within seconds. A file that
/// stops parsing is logged once, with what to fix, and the last good copy keeps serving.
struct UsersFileWatcher: Service, CustomStringConvertible {
    let verifier: PasswordVerifier
    let interval: Duration
    let logger: Logger

    var description: String { "UsersFileWatcher(\(verifier.path))" }

    func run() async throws {
        // A stop ends the wait at once: the sleep is cancelled.
        try? await cancelWhenGracefulShutdown { try await watch() }
    }

    private func watch() async throws {
        var lastProblem: String?
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            do {
                try verifier.refresh()
                if lastProblem != nil { logger.notice("users file readable again", metadata: ["file": "\(verifier.path)"]) }
                lastProblem = nil
            } catch {
                let problem = "\(error)"
                if problem != lastProblem {
                    logger.error(
                        "users file does not parse; the previous users stay in force",
                        metadata: ["file": "\(verifier.path)", "error": "\(problem)"])
                }
                lastProblem = problem
            }
        }
    }
}
