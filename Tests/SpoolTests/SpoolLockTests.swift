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
        let acquired = Mutex(false)
        // A thread of its own: the waiter blocks in flock(2), which must not tie up the cooperative pool.
        let waiter = Thread {
            let lock = try? SpoolLock.acquireWaiting(.queue, spool: directory) { holder in
                waitedFor.withLock { $0 = holder }
            }
            acquired.withLock { $0 = lock != nil }
        }
        waiter.start()
        try await waitUntilTrue { waitedFor.withLock { $0 } != nil }
        #expect(waitedFor.withLock { $0 } == getpid())
        #expect(!acquired.withLock { $0 })
        held.withLock { $0 = nil }
        try await waitUntilTrue { acquired.withLock { $0 } }
    }

    /// The spool's owner must not make root truncate or hand over another file: a lock that is a symlink
    /// (or has other names) is refused, and its target left as it was.
    @Test func aLockThatIsASymlinkIsRefused() throws {
        let spool = try TemporarySpool()
        let target = spool.directory + "/precious"
        try "keep me\n".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: spool.directory + "/lock", withDestinationPath: target)
        #expect(throws: (any Error).self) { _ = try SpoolLock.acquire(.owner, spool: spool.directory) }
        try FileManager.default.linkItem(atPath: target, toPath: spool.directory + "/lock.queue")
        #expect(throws: (any Error).self) { _ = try SpoolLock.acquire(.queue, spool: spool.directory) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me\n")
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
