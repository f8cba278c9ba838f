import Synchronization

/// Settlements waiting to be made durable, taken a batch at a time by one writer: group commit for
/// delivery outcomes. Every message finished while the previous batch was being written shares the next
/// batch's one fsync of active/, as intake's commits share theirs; one fsync per message cost a third of
/// the drain rate of a backlog.
final class SettlementQueue: Sendable {
    private let pending = Mutex<[DeliveryScheduler.Settlement]>([])
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init() {
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func add(_ settlement: DeliveryScheduler.Settlement) {
        pending.withLock { $0.append(settlement) }
        wake.yield()
    }

    /// No more settlements will come: `batches` ends once the queue is empty.
    func finish() { wake.finish() }

    /// Calls `body` with everything queued, each time something is, until `finish()`.
    func batches(_ body: ([DeliveryScheduler.Settlement]) async -> Void) async {
        for await _ in wakes {
            let batch = pending.withLock { queued in
                defer { queued = [] }
                return queued
            }
            if !batch.isEmpty { await body(batch) }
        }
        let rest = pending.withLock { $0 }
        if !rest.isEmpty { await body(rest) }
    }
}
