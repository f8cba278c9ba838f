import Foundation
import Spool
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// flock(2) locks belong to an open file, so two acquisitions in one process contend like two processes.
@Suite struct SpoolLockTests {
    @Test func theOwnerLockIsExclusiveAndNamesItsHolder() throws {
        let spool = try TemporarySpool()
        var first: SpoolLock? = try SpoolLock.acquire(.owner, spool: spool.directory)
        #expect(SpoolLock.runningServer(spool: spool.directory) == getpid())
        #expect {
            _ = try SpoolLock.acquire(.owner, spool: spool.directory)
        } throws: { error in
            guard let inUse = error as? SpoolInUse else { return false }
            return inUse.pid == getpid() && "\(inUse)".contains("in use by another relaygate server (PID \(getpid()))")
        }
        withExtendedLifetime(first) {}
        first = nil
        #expect(SpoolLock.runningServer(spool: spool.directory) == nil)
        _ = try SpoolLock.acquire(.owner, spool: spool.directory)
    }

    @Test func theOwnerAndQueueLocksAreIndependent() throws {
        let spool = try TemporarySpool()
        let owner = try SpoolLock.acquire(.owner, spool: spool.directory)
        let queue = try SpoolLock.acquire(.queue, spool: spool.directory)
        #expect(owner.path.hasSuffix("/lock") && queue.path.hasSuffix("/lock.queue"))
    }

    @Test func aWaiterGetsTheLockWhenItsHolderLetsGo() async throws {
        let spool = try TemporarySpool()
        let directory = spool.directory
        let held = Mutex<SpoolLock?>(try SpoolLock.acquire(.queue, spool: directory))
        let waitedFor = Mutex<Int32?>(nil)
        let waiter = Task.detached {
            _ = try SpoolLock.acquireWaiting(.queue, spool: directory) { holder in
                waitedFor.withLock { $0 = holder }
            }
        }
        try await waitUntilTrue { waitedFor.withLock { $0 } != nil }
        #expect(waitedFor.withLock { $0 } == getpid())
        held.withLock { $0 = nil }
        try await waiter.value
    }

    /// Polls without a fixed sleep; fails after 5 s.
    func waitUntilTrue(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
