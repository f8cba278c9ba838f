import Logging
import MailModel
import NIOCore
import NIOPosix
import SMTPProtocol
import Spool

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The scheduler and its workers: takes ready messages from the spool in arrival order (and deferred ones
/// when their next attempt is due), delivers each message's jobs, records every outcome durably, sends the
/// notifications owed, and finishes or postpones the message.
///
/// At most `limits.connections` deliveries run at once, and at most `limits.perDestination` to any one
/// next hop. Time comes from `clock` (seconds since 1970), so schedules are testable; the wait between
/// scans is real time (at most `scanInterval`), cut short by `wake()` when intake commits a message.
public actor DeliveryAgent {
    public struct Limits: Sendable {
        public var connections = 100
        public var perDestination = 20
        public init() {}
    }

    /// Builds and queues a notification: (the failed message, the DSN to send) → its queue ID. Supplied by
    /// the composition root, which knows how to route the DSN's recipient (through SRS, say).
    public typealias NotificationQueue = @Sendable (_ original: Envelope, _ dsn: DeliveryStatusNotification) throws -> QueueID?

    private let spool: Spool
    private let transport: SMTPTransport
    private let mailboxes: MaildirTransport
    private let policy: RetryPolicy
    private let limits: Limits
    private let clock: @Sendable () -> Double
    private let notify: NotificationQueue
    private let threadPool: NIOThreadPool
    private let logger: Logger
    public let scanInterval: Duration

    private var inFlight: Set<QueueID> = []
    private var deferred = DeferredSchedule()
    private var perDestination: [NextHop: Int] = [:]
    private var waitingForDestination: [NextHop: [CheckedContinuation<Void, Never>]] = [:]

    public init(
        spool: Spool, transport: SMTPTransport, mailboxes: MaildirTransport, policy: RetryPolicy, limits: Limits,
        threadPool: NIOThreadPool, logger: Logger, scanInterval: Duration = .seconds(1),
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }, notify: @escaping NotificationQueue
    ) {
        self.spool = spool
        self.transport = transport
        self.mailboxes = mailboxes
        self.policy = policy
        self.limits = limits
        self.threadPool = threadPool
        self.logger = logger
        self.scanInterval = scanInterval
        self.clock = clock
        self.notify = notify
    }

    /// Something new is in incoming/: scan now rather than at the next tick.
    public nonisolated func wake() {
        Task { await self.wakeUp() }
    }

    /// Intake committed this message: take it without listing incoming/ again (a directory of thousands,
    /// listed on every commit, would cost more than the delivery), and, while few wait, without reading its
    /// envelope back either.
    public nonisolated func enqueue(_ envelope: Envelope) {
        Task { await self.add(envelope) }
    }

    /// Messages in incoming/ known to be waiting, oldest first, and the same as a set (so one announced by
    /// intake and seen again by a scan is listed once). Each wake-up takes only what the limits allow from
    /// the front: with ten thousand waiting, a wake-up per commit must not touch all of them.
    private var waiting = CircularBuffer<QueueID>()
    private var waitingSet: Set<QueueID> = []
    private var lastFullScan = ContinuousClock.now - .seconds(3600)
    /// How often incoming/ is listed whole anyway: for messages an operator put there (`queue retry`,
    /// `release`), which must be seen within a second. Once a second is cheap even for a long queue; once per
    /// commit was not.
    private let fullScanInterval = Duration.seconds(1)

    /// Envelopes intake handed over, for messages still waiting, so claiming one costs a rename and no read
    /// and decode. Bounded, like Postfix's in-memory queue (`qmgr_message_active_limit`, 20,000): about a
    /// kilobyte each, so a backlog of 10,000 costs some 10 MB; beyond it envelopes are read when claimed.
    private var known: [QueueID: Envelope] = [:]
    private static let knownLimit = 10_000

    private func add(_ envelope: Envelope) {
        if known.count < Self.knownLimit { known[envelope.queueID] = envelope }
        addWaiting(envelope.queueID)
        wakeUp()
    }

    private func addWaiting(_ id: QueueID) {
        guard !inFlight.contains(id), waitingSet.insert(id).inserted else { return }
        waiting.append(id)
    }

    private var waiter: CheckedContinuation<Void, Never>?
    private var waiterGeneration = 0
    private var wokenEarly = false

    private func wakeUp() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            wokenEarly = true
        }
    }

    /// Returns at the next wake-up or after `scanInterval`, whichever comes first.
    private func waitForWork() async {
        if wokenEarly {
            wokenEarly = false
            return
        }
        waiterGeneration += 1
        let generation = waiterGeneration
        await withCheckedContinuation { continuation in
            waiter = continuation
            Task { [scanInterval] in
                try? await Task.sleep(for: scanInterval)
                self.timeUp(generation)
            }
        }
    }

    private func timeUp(_ generation: Int) {
        guard generation == waiterGeneration, let waiter else { return }
        self.waiter = nil
        waiter.resume()
    }

    /// Runs until the task is cancelled; deliveries in progress are left to finish or to recovery.
    public func run() async {
        for id in spool.ids(in: .deferred) {
            deferred.schedule(id, at: spool.peek(id, in: .deferred)?.nextAttempt?.timeIntervalSince1970 ?? 0)
        }
        // A discarding group: finished deliveries leave no result behind, so memory stays flat however
        // many messages pass through.
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                // Messages that are one SMTP transaction each, by next hop: they share connections.
                var shareable: [NextHop: [(Envelope, DeliveryJob)]] = [:]
                for (id, queue) in readyMessages(upTo: limits.connections - inFlight.count) {
                    let claimed: Envelope?
                    do {
                        claimed = try await claim(id, from: queue)
                    } catch let quarantined as Spool.Quarantined {
                        logger.error(
                            "quarantined: the envelope cannot be read; it waits in the quarantine directory for a person",
                            metadata: [
                                "queue_id": "\(id)", "reason": "\(quarantined.reason)",
                                "directory": "\(quarantined.directory)",
                            ])
                        claimed = nil
                    } catch {
                        // Its envelope may be left in active/ (a quarantine that failed half way): the next
                        // start puts it back in incoming/.
                        logger.error(
                            "cannot claim a message; it is tried again after the next start",
                            metadata: ["queue_id": "\(id)", "error": "\(error)"])
                        claimed = nil
                    }
                    guard let envelope = claimed else {
                        // Gone: an operator moved or deleted it (it will be seen where it went).
                        deferred.remove(id)
                        continue
                    }
                    inFlight.insert(id)
                    deferred.remove(id)
                    let jobs = DeliveryPlan.jobs(for: envelope)
                    if jobs.count == 1, jobs[0].nextHop.isSMTP {
                        shareable[jobs[0].nextHop, default: []].append((envelope, jobs[0]))
                    } else {
                        group.addTask { await self.deliver(envelope) }
                    }
                }
                for (nextHop, items) in shareable {
                    for start in stride(from: 0, to: items.count, by: Self.messagesPerConnection) {
                        let batch = Array(items[start..<min(start + Self.messagesPerConnection, items.count)])
                        group.addTask { await self.deliver(batch, to: nextHop) }
                    }
                }
                await waitForWork()
            }
            group.cancelAll()
        }
    }

    /// Up to `limit` messages to claim: waiting ones in arrival order, then deferred ones that are due,
    /// earliest due first.
    private func readyMessages(upTo limit: Int) -> [(QueueID, Spool.Queue)] {
        if ContinuousClock.now - lastFullScan >= fullScanInterval || waiting.isEmpty && inFlight.isEmpty {
            lastFullScan = ContinuousClock.now
            for id in spool.ids(in: .incoming) { addWaiting(id) }
        }
        var ready: [(QueueID, Spool.Queue)] = []
        while ready.count < limit, let id = waiting.popFirst() {
            waitingSet.remove(id)
            if inFlight.contains(id) { known[id] = nil } else { ready.append((id, .incoming)) }
        }
        guard ready.count < limit, deferred.count > 0 else { return ready }
        return ready + deferred.takeDue(now: clock(), limit: limit - ready.count).map { ($0, .deferred) }
    }

    private func claim(_ id: QueueID, from queue: Spool.Queue) async throws -> Envelope? {
        let known = queue == .incoming ? self.known.removeValue(forKey: id) : nil
        return try await blocking { [spool] in try spool.claim(id, from: queue, known: known) }
    }

    // MARK: One message

    /// How many messages one connection carries before it says QUIT.
    static let messagesPerConnection = 10

    /// Several one-transaction messages for one next hop, over one connection.
    private func deliver(_ batch: [(Envelope, DeliveryJob)], to nextHop: NextHop) async {
        await acquire(nextHop)
        let items = batch.map { envelope, job in
            (message: message(for: job, of: envelope), bodyPath: spool.bodyPath(envelope.queueID))
        }
        let delivered = await transport.deliver(to: nextHop, batch: items)
        release(nextHop)
        var attempts: [Attempt] = []
        for ((envelope, job), results) in zip(batch, delivered.results) {
            var byIndex: [Int: SMTPClientSession.RecipientResult] = [:]
            for (index, result) in zip(job.recipients, results) {
                byIndex[index] = result
                logAttempt(envelope, index: index, result: result, relay: delivered.relay)
            }
            let notices = delivered.peerOffersDSN ? [:] : Dictionary(uniqueKeysWithValues: job.recipients.map { ($0, DeliveryStatusNotification.Kind.relayed) })
            attempts.append(Attempt(envelope: envelope, results: byIndex, successNotices: notices))
        }
        await complete(attempts)
    }

    private func message(for job: DeliveryJob, of envelope: Envelope) -> SMTPClientSession.Message {
        SMTPClientSession.Message(
            sender: job.sender, recipients: job.recipients.map { envelope.recipients[$0] },
            parameters: envelope.parameters, size: envelope.size, has8BitContent: envelope.has8BitContent)
    }

    /// One message's attempt, done: its recipients' results and, for recipients that may be delivered, what
    /// a NOTIFY=SUCCESS would say.
    struct Attempt {
        let envelope: Envelope
        let results: [Int: SMTPClientSession.RecipientResult]
        let successNotices: [Int: DeliveryStatusNotification.Kind]
    }

    /// Applies attempts' results and records them (several messages from one connection together, so
    /// their removals share one directory sync).
    private func complete(_ attempts: [Attempt]) async {
        var generator = SystemRandomNumberGenerator()
        var outcomes: [(Envelope, AttemptOutcome)] = []
        for attempt in attempts {
            var envelope = attempt.envelope
            let outcome = AttemptOutcome.apply(
                attempt.results, to: &envelope, now: clock(), policy: policy, using: &generator)
            for kind in [DeliveryStatusNotification.Kind.delivered, .relayed] {
                let delivered = outcome.delivered.filter { attempt.successNotices[$0] == kind }
                let owed = DeliveryStatusNotification.recipients(delivered, of: envelope, for: kind)
                if !owed.isEmpty {
                    queueNotification(kind, envelope, owed.map { .init(recipient: envelope.recipients[$0], failure: nil) })
                }
            }
            outcomes.append((envelope, outcome))
        }
        await finishAttempts(outcomes)
        for attempt in attempts { inFlight.remove(attempt.envelope.queueID) }
        wake()
    }

    /// A message with several jobs (next hops, senders, local mailboxes): they run side by side.
    private func deliver(_ envelope: Envelope) async {
        var results: [Int: SMTPClientSession.RecipientResult] = [:]
        let bodyPath = spool.bodyPath(envelope.queueID)
        var notices: [Int: DeliveryStatusNotification.Kind] = [:]
        await withTaskGroup(of: [JobResult].self) { group in
            for job in DeliveryPlan.jobs(for: envelope) {
                group.addTask { await self.run(job, envelope: envelope, bodyPath: bodyPath) }
            }
            for await jobResults in group {
                for job in jobResults {
                    results[job.index] = job.result
                    if let notice = job.successNotice { notices[job.index] = notice }
                    logAttempt(envelope, index: job.index, result: job.result, relay: job.relay)
                }
            }
        }
        await complete([Attempt(envelope: envelope, results: results, successNotices: notices)])
    }

    /// One recipient's result from one job.
    struct JobResult: Sendable {
        let index: Int
        let result: SMTPClientSession.RecipientResult
        let relay: String
        /// What a NOTIFY=SUCCESS would report if this recipient is delivered.
        let successNotice: DeliveryStatusNotification.Kind?
    }

    private func run(_ job: DeliveryJob, envelope: Envelope, bodyPath: String) async -> [JobResult] {
        switch job.nextHop {
        case .discard:
            return job.recipients.map {
                JobResult(
                    index: $0, result: .delivered(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "discarded by rule")),
                    relay: "discard", successNotice: nil)
            }
        case .mailbox(let name):
            let mailboxes = self.mailboxes
            return await withTaskGroup(of: JobResult.self) { group in
                for index in job.recipients {
                    let recipient = envelope.recipients[index]
                    group.addTask {
                        let result =
                            (try? await self.blocking {
                                mailboxes.deliver(
                                    name: name, recipient: recipient.address,
                                    returnPath: recipient.sender ?? envelope.sender, bodyPath: bodyPath,
                                    length: envelope.size, queueID: envelope.queueID)
                            }) ?? .failed(.init(stage: .data, reply: nil, detail: "local delivery did not run", isPermanent: false))
                        return JobResult(index: index, result: result, relay: "mailbox:\(name)", successNotice: .delivered)
                    }
                }
                var all: [JobResult] = []
                for await result in group { all.append(result) }
                return all
            }
        case .mx, .relay, .host:
            await acquire(job.nextHop)
            defer { release(job.nextHop) }
            let attempt = await transport.deliver(job, message: message(for: job, of: envelope), bodyPath: bodyPath)
            return zip(job.recipients, attempt.results).map {
                JobResult(
                    index: $0, result: $1, relay: attempt.relay, successNotice: attempt.peerOffersDSN ? nil : .relayed)
            }
        }
    }

    /// Sends what notifications are owed, then finishes or postpones each message.
    private func finishAttempts(_ outcomes: [(Envelope, AttemptOutcome)]) async {
        // Notifications first: a crash between the DSN's commit and the record means a second DSN, never none.
        for (envelope, outcome) in outcomes { queueNotifications(envelope, outcome) }
        // Every recipient final: removing the envelope is the durable mark; recording the final state first
        // would only cost another fsync. A crash before it means delivery again (at least once), never a loss.
        let finished = outcomes.filter { $0.1.isFinished }.map(\.0.queueID)
        if !finished.isEmpty {
            do {
                try await blocking { [spool] in try spool.finish(finished) }
            } catch {
                logger.error(
                    "could not record a delivery outcome; the messages stay active until restart",
                    metadata: ["queue_ids": "\(finished.map(\.rawValue).joined(separator: ","))", "error": "\(error)"])
            }
        }
        for (envelope, outcome) in outcomes where !outcome.isFinished {
            let id = envelope.queueID
            do {
                try await blocking { [spool] in
                    try spool.record(envelope)
                    try spool.postpone(id)
                }
                deferred.schedule(id, at: envelope.nextAttempt?.timeIntervalSince1970 ?? clock())
            } catch {
                logger.error(
                    "could not record a delivery outcome; the message stays active until restart",
                    metadata: ["queue_id": "\(id)", "error": "\(error)"])
            }
        }
    }

    private func queueNotifications(_ envelope: Envelope, _ outcome: AttemptOutcome) {
        let failed = DeliveryStatusNotification.recipients(outcome.failed.map(\.index), of: envelope, for: .failed)
        if !failed.isEmpty {
            let failures = Dictionary(outcome.failed.map { ($0.index, $0.failure) }, uniquingKeysWith: { first, _ in first })
            queueNotification(.failed, envelope, failed.map { .init(recipient: envelope.recipients[$0], failure: failures[$0]) })
        }
        let delayed = DeliveryStatusNotification.recipients(outcome.delayed, of: envelope, for: .delayed)
        if !delayed.isEmpty {
            queueNotification(
                .delayed, envelope,
                delayed.map { index in
                    .init(
                        recipient: envelope.recipients[index],
                        failure: .init(stage: .connect, reply: nil, detail: envelope.recipients[index].lastError ?? "", isPermanent: false))
                })
        }
    }

    private func queueNotification(
        _ kind: DeliveryStatusNotification.Kind, _ envelope: Envelope, _ entries: [DeliveryStatusNotification.Entry]
    ) {
        let dsn = DeliveryStatusNotification(
            kind: kind, reportingHost: mailboxes.hostname, original: envelope, entries: entries, now: Int(clock()))
        do {
            if let dsnID = try notify(envelope, dsn) {
                logger.info(
                    "\(kind == .failed ? "bounce" : kind == .delayed ? "delay warning" : "success notice (\(kind.action))") queued",
                    metadata: ["queue_id": "\(envelope.queueID)", "dsn_queue_id": "\(dsnID)", "to": "\(envelope.sender)"])
            }
        } catch {
            logger.error(
                "could not queue a delivery status notification; dropped",
                metadata: ["queue_id": "\(envelope.queueID)", "to": "\(envelope.sender)", "error": "\(error)"])
        }
    }

    private func logAttempt(_ envelope: Envelope, index: Int, result: SMTPClientSession.RecipientResult, relay: String) {
        let recipient = envelope.recipients[index]
        let delay = max(0, clock() - envelope.arrival.timeIntervalSince1970)
        var metadata: Logger.Metadata = [
            "queue_id": "\(envelope.queueID)", "to": "<\(recipient.address)>", "relay": "\(relay)",
            "delay": "\(Self.tenths(delay))s",
        ]
        switch result {
        case .delivered(let reply):
            metadata["status"] = "sent"
            metadata["dsn"] = "\(reply.enhancedCode.map { "\($0)" } ?? "2.0.0")"
            metadata["reply"] = "\(reply.code) \(reply.lines.joined(separator: " "))"
        case .failed(let failure):
            metadata["status"] = failure.isPermanent ? "bounced" : "deferred"
            metadata["dsn"] = "\(DeliveryStatusNotification.status(of: failure, kind: failure.isPermanent ? .failed : .delayed))"
            metadata["reply"] = "\(failure)"
        }
        logger.info("delivery", metadata: metadata)
    }

    /// Seconds with one decimal ("12.3"), without `String(format:)`, which costs more than the rest of the
    /// log line.
    static func tenths(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    // MARK: Limits and blocking work

    private func acquire(_ hop: NextHop) async {
        if perDestination[hop, default: 0] >= limits.perDestination {
            await withCheckedContinuation { waitingForDestination[hop, default: []].append($0) }
        }
        perDestination[hop, default: 0] += 1
    }

    private func release(_ hop: NextHop) {
        perDestination[hop, default: 1] -= 1
        if var waiting = waitingForDestination[hop], !waiting.isEmpty {
            waiting.removeFirst().resume()
            waitingForDestination[hop] = waiting
        }
    }

    private nonisolated func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive(work)
    }
}
