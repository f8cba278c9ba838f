import MailModel
import Testing

@testable import Delivery

@Suite struct DeferredScheduleTests {
    let a = QueueID("0N4Y2K7H3QWBC5DA")!
    let b = QueueID("0N4Y2K7H3QWBC5DB")!
    let c = QueueID("0N4Y2K7H3QWBC5DC")!

    @Test func onlyWhatIsDueIsTakenEarliestFirst() {
        var schedule = DeferredSchedule()
        schedule.schedule(a, at: 300)
        schedule.schedule(b, at: 100)
        schedule.schedule(c, at: 200)
        #expect(schedule.takeDue(now: 50, limit: 10).isEmpty)
        #expect(schedule.takeDue(now: 200, limit: 10) == [b, c])
        #expect(schedule.count == 1)
        #expect(schedule.takeDue(now: 1000, limit: 10) == [a])
        #expect(schedule.count == 0)
    }

    @Test func theLimitLeavesTheRestForTheNextWakeUp() {
        var schedule = DeferredSchedule()
        for (id, due) in [(a, 1.0), (b, 2.0), (c, 3.0)] { schedule.schedule(id, at: due) }
        #expect(schedule.takeDue(now: 10, limit: 2) == [a, b])
        #expect(schedule.takeDue(now: 10, limit: 2) == [c])
    }

    @Test func rescheduledAndRemovedMessagesAreNotTakenAtTheirOldTime() {
        var schedule = DeferredSchedule()
        schedule.schedule(a, at: 100)
        schedule.schedule(b, at: 100)
        schedule.schedule(a, at: 500)  // tried again and put back for later
        schedule.remove(b)  // an operator moved it out of deferred/
        #expect(schedule.takeDue(now: 200, limit: 10).isEmpty)
        #expect(schedule.count == 1)
        #expect(schedule.takeDue(now: 500, limit: 10) == [a])
    }

    @Test func aLongScheduleGivesItsEarliestFirst() {
        var schedule = DeferredSchedule()
        var ids: [QueueID] = []
        var generator = SystemRandomNumberGenerator()
        for index in 0..<20_000 {
            let id = QueueID.make(microsecondsSince1970: UInt64(1_795_790_000_000_000 + index), using: &generator)
            ids.append(id)
            schedule.schedule(id, at: Double(index))
        }
        #expect(schedule.takeDue(now: 9.5, limit: 100) == Array(ids[0..<10]))
        #expect(schedule.count == 19_990)
    }
}
