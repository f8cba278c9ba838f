import Logging
import MailModel
import NIOCore
import NIOPosix
import SMTPProtocol
import Spool
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The driver of `DeliveryScheduler`: it feeds the scheduler events, one at a time, and carries out the
/// actions that come back: claims, scans and settlements on the thread pool, connections through
/// `SMTPTransport`, local jobs through `MaildirTransport`. Every decision, counter and time is the
/// scheduler's; what is here is I/O and logging.
///
/// Two task groups: the work group (connections, local deliveries, timers) is cancelled when a stop's
/// grace is over; the records group (claims, scans, settlements, releases) never is, so an outcome that
/// is known is always made durable, even during a stop.
public final class DeliveryAgent: Sendable {
    public typealias Limits = DeliveryScheduler.Limits

    /// Queues a notification: (the message it is about, the DSN) → the DSN's envelope, committed to
    /// incoming/. Supplied by the composition root, which routes the DSN's recipient (through SRS, say).
    public typealias NotificationQueue =
        @Sendable (_ original: Envelope, _ dsn: DeliveryStatusNotification) throws -> Envelope?

    private let spool: Spool
    private let transport: SMTPTransport
    private let mailboxes: MaildirTransport
    private let policy: RetryPolicy
    private let limits: Limits
    private let clock: @Sendable () -> Double
    private let notify: NotificationQueue
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let events: AsyncStream<DeliveryScheduler.Event>
    private let input: AsyncStream<DeliveryScheduler.Event>.Continuation
    /// Set while `run` runs: before (delivery off) and after, intake's announcements are dropped rather
    /// than kept in memory; the messages are in incoming/ and a start finds them there.
    private let running = Atomic<Bool>(false)

    public init(
        spool: Spool, transport: SMTPTransport, mailboxes: MaildirTransport, policy: RetryPolicy, limits: Limits,
        threadPool: NIOThreadPool, logger: Logger,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }, notify: @escaping NotificationQueue
    ) {
        self.spool = spool
        self.transport = transport
        self.mailboxes = mailboxes
        self.policy = policy
        self.limits = limits
        self.threadPool = threadPool
        self.logger = logger
        self.clock = clock
        self.notify = notify
        (events, input) = AsyncStream.makeStream(of: DeliveryScheduler.Event.self)
    }

    /// Intake committed this message: the scheduler takes it without listing incoming/ again. Returns
    /// whether it was taken (not when delivery is not running).
    @discardableResult
    public func enqueue(_ envelope: Envelope) -> Bool {
        guard running.load(ordering: .acquiring) else { return false }
        input.yield(.committed(envelope))
        return true
    }

    /// Stops claiming; `run` returns once what runs has finished and been recorded, or `grace` after this
    /// call, when what still runs is cut off and put back.
    public func stop() {
        input.yield(.shutdown)
    }

    /// Delivers until `stop()` (or the task is cancelled, which is a stop with no grace). The work runs in
    /// a task of its own, so a cancellation reaches it only as that stop: outcomes known by then are still
    /// recorded (a cancelled task's pool work would not run, and its event stream would end).
    public func run(grace: Duration) async {
        let driver = Task { await self.drive(grace: grace) }
        await withTaskCancellationHandler {
            await driver.value
        } onCancel: { [input] in
            input.yield(.shutdown)
            input.yield(.graceExpired)
        }
    }

    private func drive(grace: Duration) async {
        let (spool, clock) = (self.spool, self.clock)
        let deferred = (try? await blocking {
            spool.ids(in: .deferred).map {
                DeliveryScheduler.Due($0, at: spool.peek($0, in: .deferred)?.nextAttempt?.timeIntervalSince1970 ?? 0)
            }
        }) ?? []
        var scheduler = DeliveryScheduler(
            limits: limits, policy: policy, reportingHost: mailboxes.hostname, seed: UInt64.random(in: .min ... .max))
        running.store(true, ordering: .releasing)
        let input = self.input
        let settlements = SettlementQueue()
        await withDiscardingTaskGroup { records in
            records.addTask { await settlements.batches { await self.settle($0) } }
            await withDiscardingTaskGroup { work in
                var actions = scheduler.handle(.started(deferred: deferred), now: clock())
                var events = self.events.makeAsyncIterator()
                loop: while true {
                    for action in actions {
                        if case .stopped = action { break loop }
                        perform(action, settlements: settlements, work: &work, records: &records)
                    }
                    guard let event = await events.next(isolation: nil) else { break }
                    switch event {
                    case .shutdown:
                        work.addTask {
                            try? await Task.sleep(for: grace)
                            input.yield(.graceExpired)
                        }
                    case .graceExpired:
                        work.cancelAll()
                    default:
                        break
                    }
                    actions = scheduler.handle(event, now: clock())
                }
                work.cancelAll()
            }
            settlements.finish()
        }
        running.store(false, ordering: .releasing)
    }

    // MARK: Actions

    private func perform(
        _ action: DeliveryScheduler.Action, settlements: SettlementQueue, work: inout DiscardingTaskGroup,
        records: inout DiscardingTaskGroup
    ) {
        let input = self.input
        switch action {
        case .scan:
            records.addTask {
                let ids = (try? await self.blocking { [spool = self.spool] in spool.ids(in: .incoming) }) ?? []
                input.yield(.scanned(ids))
            }
        case .claim(let requests):
            records.addTask {
                let claimed = (try? await self.blocking { self.claim(requests) })
                    ?? requests.map { DeliveryScheduler.ClaimResult($0.id, nil) }
                input.yield(.claimed(claimed))
            }
        case .connect(let connection):
            work.addTask { await self.deliver(connection) }
        case .deliverLocally(let delivery):
            work.addTask {
                let report = await self.deliverLocally(delivery)
                input.yield(.jobFinished(report))
            }
        case .settle(let settlement):
            settlements.add(settlement)
        case .release(let ids):
            records.addTask {
                _ = try? await self.blocking { [spool = self.spool, logger = self.logger] in
                    for id in ids {
                        do { try spool.release(id) } catch {
                            logger.error(
                                "could not put a message back in incoming/; the next start does",
                                metadata: ["queue_id": "\(id)", "error": "\(error)"])
                        }
                    }
                }
            }
        case .wake(let time):
            let clock = self.clock
            work.addTask {
                let wait = max(0, time - clock())
                do { try await Task.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up)))) } catch { return }
                input.yield(.tick)
            }
        case .stopped:
            break
        }
    }

    /// Claims, on a pool thread. An unreadable envelope is quarantined and logged; a message that is gone
    /// (an operator moved it) is nil.
    private func claim(_ requests: [DeliveryScheduler.ClaimRequest]) -> [DeliveryScheduler.ClaimResult] {
        requests.map { request in
            do {
                return .init(request.id, try spool.claim(request.id, from: request.queue, known: request.known))
            } catch let quarantined as Spool.Quarantined {
                logger.error(
                    "quarantined: the envelope cannot be read; it waits in the quarantine directory for a person",
                    metadata: [
                        "queue_id": "\(request.id)", "reason": "\(quarantined.reason)",
                        "directory": "\(quarantined.directory)",
                    ])
            } catch {
                // Its envelope may be left in active/ (a quarantine that failed half way): the next start
                // puts it back in incoming/.
                logger.error(
                    "cannot claim a message; it is tried again after the next start",
                    metadata: ["queue_id": "\(request.id)", "error": "\(error)"])
            }
            return .init(request.id, nil)
        }
    }

    /// One connection: each message's results go to the scheduler as its reply arrives.
    private func deliver(_ connection: DeliveryScheduler.Connection) async {
        let input = self.input
        let items = connection.deliveries.map { delivery in
            (message: Self.message(for: delivery.job, of: delivery.envelope), content: spool.content(for: delivery.envelope))
        }
        await transport.deliver(to: connection.nextHop, batch: items) { index, results, facts in
            let delivery = connection.deliveries[index]
            if delivery.finishesWhenDelivered && results.allSatisfy({ if case .delivered = $0 { true } else { false } }) {
                // The scheduler's settlement is known already (see `finishesWhenDelivered`), so the mark is
                // made here, on the event loop that read the reply: one rename, metadata only, and the one
                // file operation done on an event loop, because every hop before it is a window in which a
                // crash sends the message again (measured: a thread hop here doubled the duplicates per
                // kill). The settlement knows it was made (`envelopeRemoved`), and fsyncs.
                self.spool.retireEnvelopes([delivery.envelope.queueID])
            }
            let byIndex = Dictionary(uniqueKeysWithValues: zip(delivery.job.recipients, results))
            // To the scheduler before the log line: a log write can block, and the time until the outcome
            // is recorded is the window in which a crash sends the message again.
            input.yield(
                .jobFinished(
                    .init(
                        queueID: delivery.envelope.queueID, nextHop: connection.nextHop, results: byIndex,
                        successNotice: facts.peerOffersDSN ? nil : .relayed, remoteMTA: facts.remoteHost)))
            for (recipient, result) in zip(delivery.job.recipients, results) {
                self.logAttempt(delivery.envelope, index: recipient, result: result, connection: facts)
            }
        }
        input.yield(.connectionClosed(connection.nextHop))
    }

    static func message(for job: DeliveryJob, of envelope: Envelope) -> SMTPClientSession.Message {
        SMTPClientSession.Message(
            sender: job.sender, recipients: job.recipients.map { envelope.recipients[$0] },
            parameters: envelope.parameters, size: envelope.size, has8BitContent: envelope.has8BitContent)
    }

    private func deliverLocally(_ delivery: DeliveryScheduler.Delivery) async -> DeliveryScheduler.JobReport {
        let envelope = delivery.envelope
        let job = delivery.job
        var results: [Int: SMTPClientSession.RecipientResult] = [:]
        let relay: String
        switch job.nextHop {
        case .mailbox(let name):
            relay = "mailbox:\(name)"
            let content = spool.content(for: envelope)
            for index in job.recipients {
                let recipient = envelope.recipients[index]
                let mailboxes = self.mailboxes
                results[index] =
                    (try? await blocking {
                        mailboxes.deliver(
                            name: name, recipient: recipient.address, returnPath: recipient.sender ?? envelope.sender,
                            content: content, queueID: envelope.queueID)
                    }) ?? .failed(.init(stage: .data, reply: nil, detail: "local delivery did not run", isPermanent: false))
            }
        default:
            relay = "discard"
            for index in job.recipients {
                results[index] = .delivered(SMTPReply(250, EnhancedStatusCode(2, 0, 0), "discarded by rule"))
            }
        }
        for (index, result) in results.sorted(by: { $0.key < $1.key }) {
            logAttempt(envelope, index: index, result: result, connection: .init(relay: relay))
        }
        let notice: DeliveryStatusNotification.Kind? = job.nextHop == .discard ? nil : .delivered
        return .init(queueID: envelope.queueID, nextHop: job.nextHop, results: results, successNotice: notice)
    }

    /// Makes a batch of settlements durable: first the notifications owed (a crash between a DSN's commit
    /// and the mark means a second DSN, never none), then the finished messages' envelopes leave active/
    /// with one fsync for all of them, and the others are rewritten and moved to deferred/.
    private func settle(_ batch: [DeliveryScheduler.Settlement]) async {
        for settlement in batch {
            for dsn in settlement.notifications { await queueNotification(dsn) }
            let envelope = settlement.envelope
            for index in settlement.expired {
                logger.info(
                    "delivery",
                    metadata: [
                        "queue_id": "\(envelope.queueID)", "to": "<\(envelope.recipients[index].address)>",
                        "status": "expired", "dsn": "5.4.7", "reply": "\(envelope.recipients[index].lastError ?? "")",
                    ])
            }
        }
        let finished = batch.filter(\.isFinished).map(\.envelope.queueID)
        let unmarked = batch.filter { $0.isFinished && !$0.envelopeRemoved }.map(\.envelope.queueID)
        let postponed = batch.filter { !$0.isFinished }.map(\.envelope)
        let failures =
            (try? await blocking { [spool] () -> [QueueID: String] in
                var failures: [QueueID: String] = [:]
                if !finished.isEmpty {
                    spool.retireEnvelopes(unmarked)
                    do { try spool.completeFinish(finished) } catch {
                        for id in finished { failures[id] = "\(error)" }
                    }
                }
                for envelope in postponed {
                    do {
                        try spool.record(envelope)
                        try spool.postpone(envelope.queueID)
                    } catch {
                        failures[envelope.queueID] = "\(error)"
                    }
                }
                return failures
            }) ?? Dictionary(batch.map { ($0.envelope.queueID, "the thread pool is not running") }, uniquingKeysWith: { a, _ in a })
        for settlement in batch {
            let id = settlement.envelope.queueID
            if let failure = failures[id] {
                logger.error(
                    "could not record a delivery outcome; the message stays active until restart",
                    metadata: ["queue_id": "\(id)", "error": "\(failure)"])
            }
            let due = settlement.isFinished || failures[id] != nil
                ? nil : settlement.envelope.nextAttempt?.timeIntervalSince1970 ?? clock()
            input.yield(.settled(id, nextAttempt: due))
        }
    }

    private func queueNotification(_ dsn: DeliveryStatusNotification) async {
        let original = dsn.original
        let notify = self.notify
        do {
            if let committed = try await blocking({ try notify(original, dsn) }) {
                input.yield(.committed(committed))
                let what =
                    switch dsn.kind {
                    case .failed: "bounce"
                    case .delayed: "delay warning"
                    case .delivered, .relayed: "success notice (\(dsn.kind.action))"
                    }
                logger.info(
                    "\(what) queued",
                    metadata: [
                        "queue_id": "\(original.queueID)", "dsn_queue_id": "\(committed.queueID)", "to": "\(original.sender)",
                    ])
            }
        } catch {
            logger.error(
                "could not queue a delivery status notification; dropped",
                metadata: ["queue_id": "\(original.queueID)", "to": "\(original.sender)", "error": "\(error)"])
        }
    }

    // MARK: Logging and blocking work

    private func logAttempt(
        _ envelope: Envelope, index: Int, result: SMTPClientSession.RecipientResult,
        connection: SMTPTransport.ConnectionFacts
    ) {
        let recipient = envelope.recipients[index]
        let delay = max(0, clock() - envelope.arrival.timeIntervalSince1970)
        var metadata: Logger.Metadata = [
            "queue_id": "\(envelope.queueID)", "to": "<\(recipient.address)>", "relay": "\(connection.relay)",
            "delay": "\(Self.tenths(delay))s",
        ]
        if let version = connection.tlsVersion {
            metadata["tls"] = "\(version)"
            metadata["verified"] = "\(connection.verified ? "yes" : "no")"
        }
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

    private func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive(work)
    }
}
