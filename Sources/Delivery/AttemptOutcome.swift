import MailModel
import SMTPProtocol

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Applies one delivery attempt's results to an envelope (pure): who is delivered, who failed for good,
/// who waits, when the next attempt is, and which notifications are owed.
public struct AttemptOutcome: Sendable {
    /// Recipients that failed for good in this attempt, with why: a DSN may be owed for them.
    public var failed: [(index: Int, failure: SMTPClientSession.Failure)] = []
    public var delivered: [Int] = []
    /// Recipients still pending after this attempt.
    public var deferred: [Int] = []
    /// Recipients whose senders should now hear that their mail is delayed (once per message).
    public var delayed: [Int] = []

    /// True when nothing is pending any more: the message may leave the spool.
    public var isFinished: Bool { deferred.isEmpty }

    /// - Parameters:
    ///   - results: a result for each recipient tried, by index; recipients not tried stay as they were.
    ///   - now: seconds since 1970.
    public static func apply(
        _ results: [Int: SMTPClientSession.RecipientResult], to envelope: inout Envelope, now: Double,
        policy: RetryPolicy, using generator: inout some RandomNumberGenerator
    ) -> AttemptOutcome {
        var outcome = AttemptOutcome()
        for (index, result) in results.sorted(by: { $0.key < $1.key }) {
            switch result {
            case .delivered:
                envelope.recipients[index].status = .delivered
                envelope.recipients[index].lastError = nil
                outcome.delivered.append(index)
            case .failed(let failure):
                envelope.recipients[index].lastError = failure.description
                if failure.isPermanent {
                    envelope.recipients[index].status = .failed
                    outcome.failed.append((index, failure))
                }
            }
        }
        envelope.attempts += 1
        let arrival = envelope.arrival.timeIntervalSince1970
        let pending = envelope.recipients.indices.filter { envelope.recipients[$0].status == .pending }
        if policy.hasExpired(arrival: arrival, now: now) {
            for index in pending {
                let last = envelope.recipients[index].lastError ?? "no attempt succeeded"
                let failure = SMTPClientSession.Failure(
                    stage: .queue, reply: nil,
                    detail: "gave up after \(TimeFormat.span(policy.lifetime)) in the queue; last error: \(last)",
                    isPermanent: true, status: EnhancedStatusCode(5, 4, 7))
                envelope.recipients[index].status = .failed
                envelope.recipients[index].lastError = failure.detail
                outcome.failed.append((index, failure))
            }
            return outcome
        }
        outcome.deferred = pending
        if !pending.isEmpty {
            envelope.nextAttempt = Date(
                timeIntervalSince1970: now + Double(policy.interval(afterAttempt: envelope.attempts, using: &generator).components.seconds))
            if !envelope.delayWarned && policy.needsDelayWarning(arrival: arrival, now: now) {
                envelope.delayWarned = true
                // Without NOTIFY, RFC 3461 4.1 leaves it to us: failures and delays are reported.
                outcome.delayed = pending.filter { envelope.recipients[$0].notify?.conditions.contains(.delay) ?? true }
            }
        }
        return outcome
    }
}

enum TimeFormat {
    /// "5 days", "4 hours", "3 minutes", "1 second": the largest unit that divides the span exactly, so
    /// a short test lifetime never reads "0 hours".
    static func span(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        for (size, unit) in [(Int64(86400), "day"), (3600, "hour"), (60, "minute")] where seconds >= size && seconds % size == 0 {
            let count = seconds / size
            return "\(count) \(unit)\(count == 1 ? "" : "s")"
        }
        return "\(seconds) second\(seconds == 1 ? "" : "s")"
    }
}
