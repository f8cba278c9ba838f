import DequeModule
import MailModel
import SMTPProtocol
import Spool

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Delivery's decisions, and nothing else: which message to claim next, which destination gets the next
/// connection and with which messages, what an attempt's results come to, when to look again, and how to
/// stop. Pure, like the protocol sessions: events go in with the time, actions come out, and `DeliveryAgent`
/// (the driver) carries them out and reports back. It has no clock, no I/O and no task of its own, so the
/// unit tests drive it through limits, fairness, retries and shutdown with a number for a clock.
///
/// The rules it keeps:
/// - **Claiming is not sending.** Up to `Limits.activeMessages` messages are claimed (moved to active/) in
///   arrival order, then deferred ones as they come due. A claimed message's jobs wait in a queue per next
///   hop and hold no connection while they wait.
/// - **`connections` counts connections**, across all next hops, and `perDestination` those to one next hop.
///   A slot is taken when a connection is handed to the driver and given back when the driver says it closed.
/// - **Next hops take turns.** A free slot goes to the next hop with work that has the fewest connections
///   open (among equals, the one served longest ago), so a slow or tarpitting destination holds its own slots and
///   is last in line for anyone else's.
/// - **Outcomes are per message.** A message settles as soon as the last of its jobs reports, whatever else
///   its connection still carries; the driver makes that durable at once.
/// - **Stopping** (`shutdown`) claims nothing more, puts back what was claimed but not started, and lets
///   what runs finish; `graceExpired` keeps what the next hops already accepted and puts the rest back.
public struct DeliveryScheduler: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Open SMTP connections, all next hops together (`delivery.max_connections`).
        public var connections = 100
        /// Open SMTP connections to one next hop (`delivery.max_per_destination`).
        public var perDestination = 20
        /// Messages one connection carries before it says QUIT.
        public var messagesPerConnection = 10
        /// Messages claimed at once: Postfix's `qmgr_message_active_limit` in spirit. About a kilobyte each.
        public var activeMessages = 10_000
        /// Envelopes kept from intake for messages not yet claimed, so a claim need not read them back.
        public var knownEnvelopes = 10_000
        /// Messages one claim action moves.
        public var claimBatch = 256
        /// How often incoming/ is listed whole, for messages an operator put there (`queue retry`).
        public var scanInterval = 1.0

        public init() {}
    }

    public enum Event: Sendable {
        /// The driver has started; these are deferred/'s messages and when each is due.
        case started(deferred: [Due])
        /// Intake committed this message to incoming/ (a DSN included).
        case committed(Envelope)
        /// incoming/ was listed.
        case scanned([QueueID])
        /// A claim action's results, in order: the envelope, or nil for one that is gone or quarantined.
        case claimed([ClaimResult])
        /// One job of a message has its results (a connection reports each message as its reply arrives).
        case jobFinished(JobReport)
        /// A connection handed out by `connect` is closed: its slot is free.
        case connectionClosed(NextHop)
        /// A settlement is durable (or failed to be, and the message stays in active/ until restart):
        /// `nextAttempt` is when a postponed message is due again.
        case settled(QueueID, nextAttempt: Double?)
        /// The time the driver armed has come (or any time at all: ticks are idempotent).
        case tick
        /// Stop claiming and starting; let what runs finish.
        case shutdown
        /// The grace period is over: the driver is cutting off what still runs.
        case graceExpired
    }

    public enum Action: Sendable {
        /// List incoming/ and report `scanned`.
        case scan
        /// Move these to active/ and report `claimed`.
        case claim([ClaimRequest])
        /// Open one connection to the next hop and carry these jobs over it; report `jobFinished` for each as
        /// its result is known, then `connectionClosed`.
        case connect(Connection)
        /// Deliver a local job (a mailbox, a discard) and report `jobFinished`.
        case deliverLocally(Delivery)
        /// Queue the notifications, then finish or postpone the message; report `settled`.
        case settle(Settlement)
        /// Put claimed messages back in incoming/ untried (a stop).
        case release([QueueID])
        /// Report `tick` at this time (seconds since 1970), unless an earlier tick comes first.
        case wake(at: Double)
        /// Nothing runs any more: the driver may return.
        case stopped
    }

    public struct Due: Sendable, Equatable {
        public var id: QueueID
        public var at: Double
        public init(_ id: QueueID, at: Double) {
            self.id = id
            self.at = at
        }
    }

    public struct ClaimRequest: Sendable {
        public var id: QueueID
        public var queue: Spool.Queue
        /// The envelope as intake stored it, when the scheduler still has it.
        public var known: Envelope?
    }

    public struct ClaimResult: Sendable {
        public var id: QueueID
        public var envelope: Envelope?
        public init(_ id: QueueID, _ envelope: Envelope?) {
            self.id = id
            self.envelope = envelope
        }
    }

    /// One job of a claimed message: what goes over a connection or into a mailbox.
    public struct Delivery: Sendable {
        public var envelope: Envelope
        public var job: DeliveryJob
        /// Decided here in advance: if every recipient of this job is delivered, the message's settlement
        /// is to finish it, with nothing to notify (it is the message's only job, and no recipient asked
        /// for NOTIFY=SUCCESS). The driver may then make the mark the moment the reply arrives, before the
        /// event reaches the scheduler: that is the whole duplicate window after a crash.
        public var finishesWhenDelivered = false
    }

    public struct Connection: Sendable {
        public var nextHop: NextHop
        public var deliveries: [Delivery]
    }

    /// What one job came to.
    public struct JobReport: Sendable {
        public var queueID: QueueID
        public var nextHop: NextHop
        public var results: [Int: SMTPClientSession.RecipientResult]
        /// What a NOTIFY=SUCCESS says for those delivered: nil when the next hop reports successes itself.
        public var successNotice: DeliveryStatusNotification.Kind?
        /// The host whose replies these are, when one answered (a DSN's Remote-MTA).
        public var remoteMTA: String?

        public init(
            queueID: QueueID, nextHop: NextHop, results: [Int: SMTPClientSession.RecipientResult],
            successNotice: DeliveryStatusNotification.Kind?, remoteMTA: String? = nil
        ) {
            self.queueID = queueID
            self.nextHop = nextHop
            self.results = results
            self.successNotice = successNotice
            self.remoteMTA = remoteMTA
        }
    }

    /// A message's attempt, complete: its new state and the notifications owed, queued before the message
    /// is finished or postponed (a crash between the two means a second notification, never none).
    public struct Settlement: Sendable {
        public var envelope: Envelope
        public var notifications: [DeliveryStatusNotification]
        /// Every recipient is final: the message leaves the spool.
        public var isFinished: Bool
        /// Recipients given up on because the message outlived `RetryPolicy.lifetime` (a `status=expired`
        /// log line each).
        public var expired: [Int] = []
        /// The driver already renamed the envelope out of active/ when the 250 came (the early mark, see
        /// `Delivery.finishesWhenDelivered`): only the fsync and the body's removal are left.
        public var envelopeRemoved = false
    }

    // MARK: State

    public let limits: Limits
    let policy: RetryPolicy
    let reportingHost: String
    private var jitter: SplitMix

    /// Unclaimed messages in incoming/ known to wait, oldest first, and the same as a set.
    private var waiting = Deque<QueueID>()
    private var waitingSet: Set<QueueID> = []
    private var known: [QueueID: Envelope] = [:]
    private var deferred = DeferredSchedule()

    /// Claimed messages (in active/) and how far their attempt has come.
    private var active: [QueueID: ActiveMessage] = [:]
    private var claimsInFlight = 0
    /// Jobs waiting for a connection, per next hop, and the next hops with any, in turn order.
    private var queued: [NextHop: Deque<Delivery>] = [:]
    private var turns = Deque<NextHop>()
    private var open: [NextHop: Int] = [:]
    /// When each next hop with work last got a connection (a count of connections started), for turns.
    private var lastServed: [NextHop: Int] = [:]
    private var servings = 0
    public private(set) var openConnections = 0
    private var localInFlight = 0
    private var settlementsInFlight = 0

    private var lastScan = -Double.infinity
    private var scanInFlight = false
    /// The wakes the driver is sleeping towards. A wake is asked for only when none of these comes soon
    /// enough, so sleeping tasks do not pile up (one per scan interval, for a far retry time, they did).
    private var pendingWakes: Set<Double> = []
    private var phase = Phase.starting

    private enum Phase { case starting, running, draining, abandoning, stopped }

    private struct ActiveMessage {
        var envelope: Envelope
        var jobsOutstanding: Int
        var jobsStarted = 0
        var results: [Int: SMTPClientSession.RecipientResult] = [:]
        var successNotices: [Int: DeliveryStatusNotification.Kind] = [:]
        var remoteMTAs: [Int: String] = [:]
        /// Its one job may be marked finished by the driver the moment it is all delivered.
        var finishesWhenDelivered = false
    }

    public init(limits: Limits, policy: RetryPolicy, reportingHost: String, seed: UInt64) {
        self.limits = limits
        self.policy = policy
        self.reportingHost = reportingHost
        self.jitter = SplitMix(state: seed)
    }

    /// Messages claimed and not yet settled.
    public var activeCount: Int { active.count }
    /// Messages known to wait in incoming/.
    public var waitingCount: Int { waiting.count }
    /// Connections open to one next hop.
    public func openConnections(to nextHop: NextHop) -> Int { open[nextHop, default: 0] }

    // MARK: Events

    /// Takes in an event at `now` (seconds since 1970) and returns what to do, in order.
    public mutating func handle(_ event: Event, now: Double) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .started(let due):
            for item in due { deferred.schedule(item.id, at: item.at) }
            if phase == .starting { phase = .running }
        case .committed(let envelope):
            guard phase == .running || phase == .starting else { break }
            // Kept only for a message that now waits: one already claimed (a scan saw it first) must be
            // read back when claimed again, since its file may have moved on from what intake stored.
            if addWaiting(envelope.queueID) && known.count < limits.knownEnvelopes { known[envelope.queueID] = envelope }
        case .scanned(let ids):
            scanInFlight = false
            lastScan = now
            if phase == .running { for id in ids { addWaiting(id) } }
        case .claimed(let results):
            claimsInFlight -= results.count
            if phase == .running {
                for result in results { accept(result, now: now, into: &actions) }
            } else {
                // Claimed while a stop began: back to incoming/, untried.
                let claimed = results.filter { $0.envelope != nil }.map(\.id)
                if !claimed.isEmpty { actions.append(.release(claimed)) }
            }
        case .jobFinished(let report):
            finishJob(report, now: now, into: &actions)
        case .connectionClosed(let nextHop):
            open[nextHop, default: 1] -= 1
            if open[nextHop] == 0 {
                open[nextHop] = nil
                if queued[nextHop] == nil { lastServed[nextHop] = nil }
            }
            openConnections -= 1
        case .settled(let id, let nextAttempt):
            settlementsInFlight -= 1
            active[id] = nil
            if let nextAttempt, phase == .running { deferred.schedule(id, at: nextAttempt) }
        case .tick:
            // The wakes that are due have fired. When none is (the wall clock stepped back), the earliest
            // one is taken to be the one that fired, so a clock step never leaves the timer unarmed.
            let due = pendingWakes.filter { $0 <= now }
            if due.isEmpty, let earliest = pendingWakes.min() {
                pendingWakes.remove(earliest)
            } else {
                pendingWakes.subtract(due)
            }
        case .shutdown:
            guard phase == .running || phase == .starting else { break }
            phase = .draining
            releaseUnstarted(now: now, into: &actions)
        case .graceExpired:
            if phase == .draining { phase = .abandoning }
        }
        schedule(now: now, into: &actions)
        return actions
    }

    @discardableResult
    private mutating func addWaiting(_ id: QueueID) -> Bool {
        guard active[id] == nil, waitingSet.insert(id).inserted else { return false }
        waiting.append(id)
        return true
    }

    private mutating func accept(_ result: ClaimResult, now: Double, into actions: inout [Action]) {
        guard var envelope = result.envelope else { return }  // gone: an operator moved or deleted it
        let id = result.id
        // The file's name is the message's identity everywhere after this (reports, marks, releases).
        envelope.queueID = id
        deferred.remove(id)
        let jobs = DeliveryPlan.jobs(for: envelope)
        guard !jobs.isEmpty else {
            // Nothing pending (a crash after the last outcome was recorded): it only needs finishing.
            active[id] = ActiveMessage(envelope: envelope, jobsOutstanding: 0)
            envelope.nextAttempt = nil
            settlementsInFlight += 1
            actions.append(.settle(Settlement(envelope: envelope, notifications: [], isFinished: true)))
            return
        }
        let finishesWhenDelivered =
            jobs.count == 1 && jobs[0].nextHop.isSMTP
            && DeliveryStatusNotification.recipients(jobs[0].recipients, of: envelope, for: .relayed).isEmpty
        active[id] = ActiveMessage(
            envelope: envelope, jobsOutstanding: jobs.count, finishesWhenDelivered: finishesWhenDelivered)
        for job in jobs {
            var delivery = Delivery(envelope: envelope, job: job)
            delivery.finishesWhenDelivered = finishesWhenDelivered
            if job.nextHop.isSMTP {
                if queued[job.nextHop] == nil { turns.append(job.nextHop) }
                queued[job.nextHop, default: []].append(delivery)
            } else {
                active[id]!.jobsStarted += 1
                localInFlight += 1
                actions.append(.deliverLocally(delivery))
            }
        }
    }

    private mutating func finishJob(_ report: JobReport, now: Double, into actions: inout [Action]) {
        let id = report.queueID
        if !report.nextHop.isSMTP { localInFlight -= 1 }
        guard var message = active[id] else { return }
        var results = report.results
        if phase == .abandoning {
            // Cut off at the grace deadline: a failure now says nothing about the next hop, only about us.
            results = results.filter { if case .delivered = $0.value { true } else { false } }
        }
        for (index, result) in results {
            message.results[index] = result
            if let notice = report.successNotice { message.successNotices[index] = notice }
            if let remoteMTA = report.remoteMTA { message.remoteMTAs[index] = remoteMTA }
        }
        message.jobsOutstanding -= 1
        active[id] = message
        guard message.jobsOutstanding == 0 else { return }
        if message.results.isEmpty && phase != .running {
            // Nothing happened to it before the stop: back to incoming/, as if never claimed.
            active[id] = nil
            actions.append(.release([id]))
            return
        }
        settle(id, now: now, into: &actions)
    }

    private mutating func settle(_ id: QueueID, now: Double, into actions: inout [Action]) {
        guard var message = active[id] else { return }
        let outcome = AttemptOutcome.apply(
            message.results, to: &message.envelope, now: now, policy: policy, using: &jitter)
        if phase != .running && !outcome.isFinished
            && outcome.deferred.contains(where: { message.results[$0] == nil })
        {
            // Recipients whose job a stop kept from running are due as soon as the server is back.
            message.envelope.nextAttempt = Date(timeIntervalSince1970: now)
        }
        let envelope = message.envelope
        var notifications = DeliveryStatusNotification.owed(
            by: outcome, of: envelope, reportingHost: reportingHost, now: Int(now),
            retryUntil: Int(envelope.arrival.timeIntervalSince1970) + Int(policy.lifetime.components.seconds),
            remoteMTA: { [remoteMTAs = message.remoteMTAs] in remoteMTAs[$0] })
        for kind in [DeliveryStatusNotification.Kind.delivered, .relayed] {
            let delivered = outcome.delivered.filter { message.successNotices[$0] == kind }
            let owed = DeliveryStatusNotification.recipients(delivered, of: envelope, for: kind)
            if !owed.isEmpty {
                notifications.append(
                    DeliveryStatusNotification(
                        kind: kind, reportingHost: reportingHost, original: envelope,
                        entries: owed.map { .init(recipient: envelope.recipients[$0], failure: nil) }, now: Int(now)))
            }
        }
        active[id] = message
        settlementsInFlight += 1
        actions.append(
            .settle(
                Settlement(
                    envelope: envelope, notifications: notifications, isFinished: outcome.isFinished,
                    expired: outcome.failed.filter { $0.failure.stage == .queue }.map(\.index),
                    // Finished with no failure, so every recipient of its one job was delivered: the driver
                    // saw the same 250s and made the mark.
                    envelopeRemoved: message.finishesWhenDelivered && outcome.isFinished && outcome.failed.isEmpty)))
    }

    // MARK: What to start

    private mutating func schedule(now: Double, into actions: inout [Action]) {
        switch phase {
        case .starting, .stopped:
            return
        case .draining, .abandoning:
            if active.isEmpty && claimsInFlight == 0 && openConnections == 0 && localInFlight == 0
                && settlementsInFlight == 0
            {
                phase = .stopped
                actions.append(.stopped)
            }
            return
        case .running:
            break
        }
        if !scanInFlight && now - lastScan >= limits.scanInterval {
            scanInFlight = true
            actions.append(.scan)
        }
        if claimsInFlight == 0, let claim = nextClaim(now: now) { actions.append(claim) }
        startConnections(into: &actions)
        armTimer(now: now, into: &actions)
    }

    /// Deferred messages that are due (up to half the room, so a steady flow of new mail cannot keep
    /// retries waiting until they expire), then waiting ones in arrival order, then more deferred ones, as
    /// far as the active limit allows.
    private mutating func nextClaim(now: Double) -> Action? {
        let room = min(limits.claimBatch, limits.activeMessages - active.count)
        guard room > 0 else { return nil }
        var requests: [ClaimRequest] = []
        if deferred.count > 0 {
            for id in deferred.takeDue(now: now, limit: max(1, room / 2)) where active[id] == nil {
                requests.append(ClaimRequest(id: id, queue: .deferred, known: nil))
            }
        }
        while requests.count < room, let id = waiting.popFirst() {
            waitingSet.remove(id)
            let known = self.known.removeValue(forKey: id)
            if active[id] == nil { requests.append(ClaimRequest(id: id, queue: .incoming, known: known)) }
        }
        if requests.count < room && deferred.count > 0 {
            for id in deferred.takeDue(now: now, limit: room - requests.count) where active[id] == nil {
                requests.append(ClaimRequest(id: id, queue: .deferred, known: nil))
            }
        }
        guard !requests.isEmpty else { return nil }
        claimsInFlight += requests.count
        return .claim(requests)
    }

    /// Hands free slots to next hops with work: the one with the fewest open connections first, and among
    /// equals the one served longest ago. A tarpit that holds many slots is last in line for the next one.
    /// (Linear in the next hops with work waiting, which only grows long when slots are scarce anyway.)
    private mutating func startConnections(into actions: inout [Action]) {
        while openConnections < limits.connections {
            var chosen: (position: Int, open: Int, served: Int)?
            for (position, nextHop) in turns.enumerated() {
                let count = open[nextHop, default: 0]
                let served = lastServed[nextHop] ?? -1
                guard count < limits.perDestination else { continue }
                if let best = chosen, (best.open, best.served) <= (count, served) { continue }
                chosen = (position, count, served)
            }
            guard let position = chosen?.position else { return }
            let nextHop = turns.remove(at: position)
            servings += 1
            lastServed[nextHop] = servings
            // Taken out of the dictionary, not copied: a copy of a queue of 10,000 jobs per connection made
            // draining a backlog slower the longer it was.
            var jobs = queued.removeValue(forKey: nextHop) ?? []
            // A connection's worth at a time: fewer connections to one destination, as a receiving server
            // prefers (and fewer handshakes); more open only while a queue holds more than that.
            var batch: [Delivery] = []
            while batch.count < limits.messagesPerConnection, let delivery = jobs.popFirst() {
                batch.append(delivery)
                active[delivery.envelope.queueID]?.jobsStarted += 1
            }
            if !jobs.isEmpty {
                queued[nextHop] = jobs
                turns.append(nextHop)
            }
            guard !batch.isEmpty else {
                lastServed[nextHop] = nil
                continue
            }
            open[nextHop, default: 0] += 1
            openConnections += 1
            actions.append(.connect(Connection(nextHop: nextHop, deliveries: batch)))
        }
    }

    /// The next time something is due: a rescan, or the earliest deferred message.
    private mutating func armTimer(now: Double, into actions: inout [Action]) {
        // A scan or a claim in flight reports back, and a full active set frees up as messages settle:
        // neither needs a timer.
        var next = scanInFlight ? Double.infinity : lastScan + limits.scanInterval
        if claimsInFlight == 0 && active.count < limits.activeMessages, let due = deferred.earliest() {
            next = min(next, due)
        }
        guard next < .infinity else { return }
        next = max(next, now)
        if let soonest = pendingWakes.min(), soonest <= next { return }
        pendingWakes.insert(next)
        actions.append(.wake(at: next))
    }

    /// A stop: messages claimed and waiting for a connection go back to incoming/, untried. A message
    /// with jobs already running keeps its waiting ones untried, and settles with what ran.
    private mutating func releaseUnstarted(now: Double, into actions: inout [Action]) {
        var untouched: [QueueID] = []
        for (_, jobs) in queued {
            for delivery in jobs {
                let id = delivery.envelope.queueID
                guard var message = active[id] else { continue }
                message.jobsOutstanding -= 1
                active[id] = message
                if message.jobsOutstanding == 0 {
                    if message.jobsStarted == 0 {
                        active[id] = nil
                        untouched.append(id)
                    } else {
                        settle(id, now: now, into: &actions)
                    }
                }
            }
        }
        queued = [:]
        turns = []
        waiting = []
        waitingSet = []
        known = [:]
        if !untouched.isEmpty { actions.append(.release(untouched.sorted())) }
    }
}

/// The retry jitter's random source: seeded, so a test can replay a schedule.
struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
