import Foundation
import Logging
import MailModel
import NIOPosix
import SMTPProtocol
import Spool
import Testing

@testable import Delivery

/// The scheduler driven by hand: a number for a clock, envelopes in memory, and every action it asks for
/// answered (or held back) by the test. No sockets, no files, no sleeping.
struct SchedulerHarness {
    var scheduler: DeliveryScheduler
    var now = 1_000_000.0
    /// Envelopes by queue ID, as the spool would give them when claimed.
    var stored: [QueueID: Envelope] = [:]
    /// Every action so far, in order.
    var log: [DeliveryScheduler.Action] = []
    /// Connections handed out and not yet closed.
    var open: [DeliveryScheduler.Connection] = []
    var settlements: [DeliveryScheduler.Settlement] = []
    var released: [QueueID] = []
    var stopped = false
    /// What a scan of incoming/ finds.
    var incoming: [QueueID] = []
    /// Claims kept unanswered (a slow spool), to be answered by `answerHeldClaims`.
    var holdClaims = false
    var heldClaims: [[DeliveryScheduler.ClaimRequest]] = []
    private var serial = 0

    init(limits: DeliveryScheduler.Limits = .init(), policy: RetryPolicy = Self.exactPolicy) {
        scheduler = DeliveryScheduler(limits: limits, policy: policy, reportingHost: "mx.test", seed: 7)
        handle(.started(deferred: []))
    }

    static var exactPolicy: RetryPolicy {
        var policy = RetryPolicy()
        policy.jitter = 0
        return policy
    }

    /// Handles an event; claims and scans are answered at once (from `stored`), so the test sees what a
    /// driver with an instant spool would.
    mutating func handle(_ event: DeliveryScheduler.Event) {
        var pending = [event]
        while !pending.isEmpty {
            let actions = scheduler.handle(pending.removeFirst(), now: now)
            log += actions
            for action in actions {
                switch action {
                case .claim(let requests):
                    if holdClaims {
                        heldClaims.append(requests)
                    } else {
                        pending.append(.claimed(requests.map { .init($0.id, stored[$0.id]) }))
                    }
                case .scan:
                    pending.append(.scanned(incoming))
                case .connect(let connection):
                    open.append(connection)
                case .settle(let settlement):
                    settlements.append(settlement)
                case .release(let ids):
                    released += ids
                case .stopped:
                    stopped = true
                case .deliverLocally, .wake:
                    break
                }
            }
        }
    }

    /// A new message to `addresses`, committed by intake.
    @discardableResult
    mutating func commit(to addresses: [String], arrival: Double? = nil) -> QueueID {
        let id = store(to: addresses, arrival: arrival)
        handle(.committed(stored[id]!))
        return id
    }

    /// A message in the spool that the scheduler has not been told of.
    mutating func store(to addresses: [String], arrival: Double? = nil) -> QueueID {
        serial += 1
        let id = QueueID("1K165610000" + String(100_000 + serial).suffix(5))!
        var envelope = sampleEnvelope(addresses.map { recipient($0) }, arrival: arrival ?? now)
        envelope.queueID = id
        stored[id] = envelope
        return id
    }

    /// Ends the connection at `index` of `open`: each of its messages gets `result` for every recipient.
    mutating func finish(_ index: Int, with result: SMTPClientSession.RecipientResult = .delivered(SMTPReply(250, nil, "ok"))) {
        let connection = open.remove(at: index)
        for delivery in connection.deliveries {
            report(delivery, result)
        }
        handle(.connectionClosed(connection.nextHop))
    }

    mutating func report(
        _ delivery: DeliveryScheduler.Delivery, _ result: SMTPClientSession.RecipientResult, from remoteMTA: String? = nil
    ) {
        handle(
            .jobFinished(
                .init(
                    queueID: delivery.envelope.queueID, nextHop: delivery.job.nextHop,
                    results: Dictionary(uniqueKeysWithValues: delivery.job.recipients.map { ($0, result) }),
                    successNotice: .relayed, remoteMTA: remoteMTA)))
    }

    mutating func answerHeldClaims() {
        let held = heldClaims
        heldClaims = []
        for requests in held { handle(.claimed(requests.map { .init($0.id, stored[$0.id]) })) }
    }

    /// Makes every settlement so far durable, as the driver does.
    mutating func recordSettlements() {
        let done = settlements
        settlements = []
        for settlement in done {
            handle(
                .settled(
                    settlement.envelope.queueID,
                    nextAttempt: settlement.isFinished ? nil : settlement.envelope.nextAttempt?.timeIntervalSince1970))
        }
    }

    func openConnections(to domain: String) -> Int { open.filter { $0.nextHop == .mx(domain: domain) }.count }

    var wakes: [Double] { log.compactMap { if case .wake(let at) = $0 { at } else { nil } } }
}

/// Limits for a test: the defaults with `change` applied.
func limits(_ change: (inout DeliveryScheduler.Limits) -> Void) -> DeliveryScheduler.Limits {
    var limits = DeliveryScheduler.Limits()
    change(&limits)
    return limits
}

let tempfail = SMTPClientSession.RecipientResult.failed(
    .init(stage: .rcpt, reply: SMTPReply(450, EnhancedStatusCode(4, 2, 0), "mailbox busy"), detail: "", isPermanent: false))

@Suite struct DeliverySchedulerLimitTests {
    @Test func theConnectionLimitCountsConnectionsExactly() {
        var harness = SchedulerHarness(
            limits: limits {
                $0.connections = 3
                $0.perDestination = 2
                $0.messagesPerConnection = 1
            })
        for index in 0..<10 { harness.commit(to: ["bob@d\(index % 3).example"]) }
        #expect(harness.open.count == 3, "exactly the limit, not one more")
        #expect(harness.scheduler.openConnections == 3)
        // A free slot is taken at once, and no more than one.
        harness.finish(0)
        harness.recordSettlements()
        #expect(harness.open.count == 3)
        // The nine messages left, most waiting for a slot, are claimed, and not counted as connections.
        #expect(harness.scheduler.activeCount == 9)
    }

    @Test func aDestinationGetsNoMoreThanItsShare() {
        var harness = SchedulerHarness(limits: limits { $0.perDestination = 2; $0.messagesPerConnection = 1 })
        for _ in 0..<5 { harness.commit(to: ["bob@slow.example"]) }
        #expect(harness.openConnections(to: "slow.example") == 2)
        harness.finish(0)
        #expect(harness.openConnections(to: "slow.example") == 2)
    }

    /// Found together (a restart's scan), messages for one next hop share connections, ten to each.
    @Test func messagesFoundTogetherShareConnections() {
        var harness = SchedulerHarness()
        harness.incoming = (0..<25).map { _ in harness.store(to: ["bob@one.example"]) }
        harness.now += 1
        harness.handle(.tick)
        #expect(harness.open.map(\.deliveries.count) == [10, 10, 5])
    }

    @Test func claimingStopsAtTheActiveLimitAndResumesAsMessagesSettle() {
        var harness = SchedulerHarness(
            limits: limits {
                $0.activeMessages = 4
                $0.perDestination = 1
                $0.messagesPerConnection = 1
            })
        for _ in 0..<6 { harness.commit(to: ["bob@one.example"]) }
        #expect(harness.scheduler.activeCount == 4)
        #expect(harness.scheduler.waitingCount == 2)
        harness.finish(0)
        harness.recordSettlements()
        #expect(harness.scheduler.activeCount == 4)
        #expect(harness.scheduler.waitingCount == 1)
    }
}

@Suite struct DeliverySchedulerFairnessTests {
    /// 100 messages to a tarpit (connections that never finish) take its share of slots; a message for
    /// another domain gets a connection at once.
    @Test func aTarpitHoldsOnlyItsOwnSlots() {
        var harness = SchedulerHarness()
        for _ in 0..<100 { harness.commit(to: ["x@tarpit.example"]) }
        #expect(harness.openConnections(to: "tarpit.example") == 20, "its share: max_per_destination")
        harness.commit(to: ["bob@elsewhere.example"])
        #expect(harness.openConnections(to: "elsewhere.example") == 1)
    }

    /// With slots scarce, destinations take turns: when a tarpit's connection times out, the slot goes to
    /// the domain that has waited, not back to the tarpit.
    @Test func freedSlotsGoRoundTheDestinations() {
        var harness = SchedulerHarness(limits: limits { $0.connections = 2; $0.messagesPerConnection = 1 })
        for _ in 0..<10 { harness.commit(to: ["x@tarpit.example"]) }
        harness.commit(to: ["bob@elsewhere.example"])
        harness.commit(to: ["carol@third.example"])
        #expect(harness.openConnections(to: "tarpit.example") == 2)
        harness.finish(0, with: tempfail)
        #expect(harness.openConnections(to: "elsewhere.example") == 1)
        harness.finish(0, with: tempfail)
        #expect(harness.openConnections(to: "third.example") == 1)
        #expect(harness.openConnections(to: "tarpit.example") == 0)
    }
}

@Suite struct DeliverySchedulerOutcomeTests {
    /// A message settles when its own reply comes, while its connection carries others.
    @Test func eachMessageSettlesAsItsReplyArrives() {
        var harness = SchedulerHarness()
        harness.incoming = (0..<3).map { _ in harness.store(to: ["bob@one.example"]) }
        harness.now += 1
        harness.handle(.tick)
        let shared = harness.open[0]
        #expect(shared.deliveries.count == 3)
        harness.report(shared.deliveries[0], .delivered(SMTPReply(250, nil, "ok")))
        #expect(harness.settlements.map(\.envelope.queueID) == [shared.deliveries[0].envelope.queueID])
        #expect(harness.settlements[0].isFinished)
    }

    /// Which deliveries the driver may mark finished the moment their 250 arrives: only those whose
    /// settlement would be exactly that (one job, no success notice asked for).
    @Test func theEarlyMarkIsAllowedOnlyWhenTheSettlementIsKnown() {
        var harness = SchedulerHarness()
        harness.commit(to: ["bob@one.example"])
        harness.commit(to: ["carol@one.example", "dave@two.example"])
        var envelope = sampleEnvelope([recipient("erin@one.example", notify: "SUCCESS")])
        envelope.queueID = QueueID("1K1656100000ZZZZ")!
        harness.stored[envelope.queueID] = envelope
        harness.handle(.committed(envelope))
        let flags = harness.open.flatMap(\.deliveries).map { ($0.job.recipients.count, $0.finishesWhenDelivered) }
        #expect(flags.map(\.1) == [true, false, false, false])
    }

    @Test func aTemporaryFailureComesBackWhenDueByTheClock() {
        var harness = SchedulerHarness(limits: limits { $0.scanInterval = 10_000 })
        let id = harness.commit(to: ["bob@one.example"])
        harness.finish(0, with: tempfail)
        let settlement = harness.settlements[0]
        #expect(!settlement.isFinished)
        let due = try! #require(settlement.envelope.nextAttempt?.timeIntervalSince1970)
        #expect(due == harness.now + 300, "first_retry, no jitter")
        harness.recordSettlements()
        #expect(harness.wakes.contains(due))
        harness.log = []
        harness.now = due - 1
        harness.handle(.tick)
        #expect(!harness.log.contains { if case .claim = $0 { true } else { false } })
        harness.now = due
        harness.handle(.tick)
        #expect(
            harness.log.contains {
                if case .claim(let requests) = $0 { requests.map(\.id) == [id] && requests[0].queue == .deferred } else { false }
            })
    }

    @Test func aMessageOlderThanItsLifetimeExpiresWithA547Bounce() {
        var harness = SchedulerHarness()
        harness.commit(to: ["bob@one.example"], arrival: harness.now - 5 * 86400)
        harness.finish(0, with: tempfail)
        let settlement = harness.settlements[0]
        #expect(settlement.isFinished)
        #expect(settlement.expired == [0])
        let bounce = try! #require(settlement.notifications.first)
        #expect(bounce.kind == .failed)
        #expect(DeliveryStatusNotification.status(of: bounce.entries[0].failure, kind: .failed) == "5.4.7")
        #expect(bounce.entries[0].failure?.description.contains("gave up after 5 days") == true)
    }

    @Test func aBounceNamesTheRemoteMTAAndKeepsItsStatus() {
        var harness = SchedulerHarness()
        harness.commit(to: ["nobody@one.example"])
        let rejected = SMTPClientSession.RecipientResult.failed(
            .init(stage: .rcpt, reply: SMTPReply(550, EnhancedStatusCode(5, 1, 1), "no such user"), detail: "", isPermanent: true))
        let connection = harness.open.removeFirst()
        harness.report(connection.deliveries[0], rejected, from: "mx1.one.example")
        let bounce = try! #require(harness.settlements.first?.notifications.first)
        let text = String(decoding: bounce.render(originalContent: [], boundaryToken: "b"), as: UTF8.self)
        #expect(text.contains("Status: 5.1.1\r\nRemote-MTA: dns; mx1.one.example\r\n"))
        #expect(text.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user"))
    }

    @Test func aDelayWarningKeepsTheRemoteStatusAndSaysUntilWhen() {
        var harness = SchedulerHarness()
        let arrival = harness.now - 4 * 3600
        harness.commit(to: ["bob@one.example"], arrival: arrival)
        harness.finish(0, with: tempfail)
        let warning = try! #require(harness.settlements[0].notifications.first)
        #expect(warning.kind == .delayed)
        #expect(warning.willRetryUntil == Int(arrival) + 5 * 86400)
        let text = String(decoding: warning.render(originalContent: [], boundaryToken: "b"), as: UTF8.self)
        #expect(text.contains("Status: 4.2.0"))
        #expect(text.contains("<bob@one.example>: RCPT: 450 4.2.0 mailbox busy\r\n"), "the stage as it was, not connect:")
        #expect(text.contains("Will-Retry-Until: "))
    }
}

@Suite struct DeliverySchedulerShutdownTests {
    /// A stop: nothing more is claimed or started, messages waiting for a connection go back untried,
    /// what runs finishes and is recorded, and only then is the scheduler stopped.
    @Test func aStopRecordsWhatRanAndPutsBackWhatDidNot() {
        var harness = SchedulerHarness(limits: limits { $0.perDestination = 1; $0.messagesPerConnection = 1 })
        let running = harness.commit(to: ["bob@one.example"])
        let waiting = harness.commit(to: ["carol@one.example"])
        harness.handle(.shutdown)
        #expect(harness.released == [waiting])
        harness.commit(to: ["dave@two.example"])
        #expect(harness.open.count == 1, "nothing new starts")
        #expect(!harness.stopped)
        harness.finish(0)
        #expect(harness.settlements.map(\.envelope.queueID) == [running])
        #expect(!harness.stopped, "not before the outcome is durable")
        harness.recordSettlements()
        #expect(harness.stopped)
    }

    /// At the grace deadline the driver cuts connections off: what the next hop accepted is kept, and a
    /// message that only failed because it was cut off goes back untried.
    @Test func theGraceDeadlineKeepsAcceptedMailAndPutsTheRestBack() {
        var harness = SchedulerHarness()
        for _ in 0..<2 { harness.commit(to: ["bob@one.example"]) }
        harness.handle(.shutdown)
        harness.handle(.graceExpired)
        let cut = SMTPClientSession.RecipientResult.failed(
            .init(stage: .data, reply: nil, detail: "connection closed", isPermanent: false))
        harness.report(harness.open[0].deliveries[0], .delivered(SMTPReply(250, nil, "ok")))
        harness.report(harness.open[1].deliveries[0], cut)
        #expect(harness.settlements.count == 1 && harness.settlements[0].isFinished)
        #expect(harness.released == [harness.open[1].deliveries[0].envelope.queueID])
        harness.handle(.connectionClosed(.mx(domain: "one.example")))
        harness.handle(.connectionClosed(.mx(domain: "one.example")))
        harness.recordSettlements()
        #expect(harness.stopped)
    }

    /// A claim the spool was still making when the stop came: what it claimed goes back, and the stop
    /// completes (it used to wait for ever for jobs that would never start).
    @Test func aClaimAnsweredAfterTheStopIsPutBack() {
        var harness = SchedulerHarness()
        harness.holdClaims = true
        let id = harness.commit(to: ["bob@one.example"])
        harness.handle(.shutdown)
        #expect(!harness.stopped)
        harness.answerHeldClaims()
        #expect(harness.released == [id])
        #expect(harness.open.isEmpty)
        #expect(harness.stopped)
    }

    /// Intake's announcements during a stop are not kept: the messages wait in incoming/ for the next start.
    @Test func nothingIsHeldForAStoppedScheduler() {
        var harness = SchedulerHarness()
        harness.handle(.shutdown)
        for _ in 0..<100 { harness.commit(to: ["bob@one.example"]) }
        #expect(harness.scheduler.waitingCount == 0)
        #expect(harness.scheduler.activeCount == 0)
        #expect(harness.stopped)
    }
}

@Suite struct DeliverySchedulerScanTests {
    @Test func incomingIsListedAtStartAndOncePerScanInterval() {
        var harness = SchedulerHarness()
        #expect(harness.log.filter { if case .scan = $0 { true } else { false } }.count == 1)
        #expect(harness.wakes.last == harness.now + 1)
        harness.now += 1
        harness.handle(.tick)
        #expect(harness.log.filter { if case .scan = $0 { true } else { false } }.count == 2)
    }
}

/// With `delivery.enabled: false` the agent never runs, and intake's announcements must not pile up in
/// memory (they did: a task and a set entry per commit).
@Suite struct DeliveryAgentIdleTests {
    @Test func anAgentThatIsNotRunningKeepsNothing() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool(directory: directory)
        let agent = DeliveryAgent(
            spool: spool,
            transport: try SMTPTransport(
                group: group, threadPool: threadPool, heloName: "mx.test", upstreams: [],
                resolver: SystemMXResolver(threadPool: threadPool), logger: Logger(label: "test")),
            mailboxes: MaildirTransport(root: directory + "/mailboxes", hostname: "mx.test"), policy: RetryPolicy(),
            limits: .init(), threadPool: threadPool, logger: Logger(label: "test"), notify: { _, _ in nil })
        let taken = (0..<1000).filter { _ in agent.enqueue(sampleEnvelope([recipient("bob@one.example")])) }
        #expect(taken.isEmpty)
        try await threadPool.shutdownGracefully()
        try await group.shutdownGracefully()
    }
}

@Suite struct DeliverySchedulerTimerTests {
    /// A retry an hour away and a scan every second: the hour's wake is asked for once, not once a second
    /// (each one a sleeping task in the driver).
    @Test func aFarRetryIsWokenForOnce() {
        var harness = SchedulerHarness()
        harness.commit(to: ["bob@one.example"])
        harness.finish(0, with: tempfail)
        harness.recordSettlements()
        let due = harness.now + 300
        for _ in 0..<100 {
            harness.now += 1
            harness.handle(.tick)
            harness.handle(.scanned([]))
        }
        #expect(harness.wakes.filter { $0 == due }.count <= 1, "\(harness.wakes.filter { $0 == due }.count) wakes for one retry")
    }

    /// The wall clock steps back an hour: ticks still come (the driver sleeps on a monotonic clock), and
    /// the scheduler keeps asking for the next one.
    @Test func aClockStepBackDoesNotStopTheTimer() {
        var harness = SchedulerHarness()
        harness.now -= 3600
        for _ in 0..<5 {
            let before = harness.wakes.count
            harness.handle(.tick)
            harness.handle(.scanned([]))
            #expect(harness.wakes.count > before, "a wake is asked for after each tick")
            harness.now += 1
        }
    }
}

@Suite struct DeliverySchedulerClaimTests {
    /// A due retry is not kept waiting behind a steady flow of new mail.
    @Test func dueRetriesShareTheClaimsWithNewMail() {
        var harness = SchedulerHarness(limits: limits { $0.claimBatch = 4 })
        harness.holdClaims = true
        for _ in 0..<10 { harness.commit(to: ["carol@two.example"]) }
        let retry = harness.store(to: ["bob@one.example"])
        harness.handle(.started(deferred: [.init(retry, at: harness.now - 10)]))
        #expect(harness.heldClaims.count == 1, "one claim at a time")
        harness.answerHeldClaims()
        // Nine new messages wait; the next claim of four still takes the retry that is due.
        let next = harness.heldClaims.flatMap { $0 }
        #expect(next.count == 4)
        #expect(next.contains { $0.id == retry && $0.queue == .deferred })
    }
}

