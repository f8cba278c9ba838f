import HeapModule
import MailModel

/// Deferred messages and when each is next due, so that a wake-up looks only at those whose time has come.
/// The scheduler wakes at every commit and every finished delivery; with a destination down for a day,
/// tens of thousands may wait in deferred/, and filtering all of them at each wake-up would cost more than
/// the deliveries. A min-heap on the due time keeps a wake-up's cost to what it takes.
///
/// Pure: the scheduler owns one and tells it what the spool did.
struct DeferredSchedule {
    private var dueTimes: [QueueID: Double] = [:]
    /// Every scheduled message, earliest first; an entry whose time no longer matches `dueTimes` (removed,
    /// or scheduled again) is dropped when it reaches the top.
    private var order = Heap<Entry>()

    private struct Entry: Comparable {
        let due: Double
        let id: QueueID

        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.due, lhs.id) < (rhs.due, rhs.id) }
    }

    /// Messages scheduled.
    var count: Int { dueTimes.count }

    /// Schedules `id` for `due` (seconds since 1970), replacing any earlier time.
    mutating func schedule(_ id: QueueID, at due: Double) {
        dueTimes[id] = due
        order.insert(Entry(due: due, id: id))
    }

    /// Forgets `id`: it was claimed, or is no longer in deferred/.
    mutating func remove(_ id: QueueID) {
        dueTimes[id] = nil
    }

    /// When the earliest scheduled message is due (entries no longer scheduled are dropped on the way).
    mutating func earliest() -> Double? {
        while let next = order.min {
            if dueTimes[next.id] == next.due { return next.due }
            order.removeMin()
        }
        return nil
    }

    /// Takes up to `limit` messages that are due at `now`, earliest first, and forgets them: the caller
    /// claims them, and schedules again any it puts back.
    mutating func takeDue(now: Double, limit: Int) -> [QueueID] {
        var taken: [QueueID] = []
        while taken.count < limit, let next = order.min, next.due <= now {
            order.removeMin()
            guard dueTimes[next.id] == next.due else { continue }
            dueTimes[next.id] = nil
            taken.append(next.id)
        }
        return taken
    }
}
