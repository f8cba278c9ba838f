import FileSupport
import Foundation

/// Group commit for directory entries. After renaming a file into place, a writer must fsync the directory
/// before the rename is durable. Concurrent writers share those fsyncs: a writer waits for the first sync
/// that *starts* after its rename, so one fsync covers every rename made before it began, and none returns
/// before a sync that covers its own rename has finished.
final class DirectorySync: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `condition`.
    private let condition = NSCondition()
    private var started = 0
    private var completed = 0
    private var running = false
    private var failures: [Int: SpoolError] = [:]
    private let directories: [(fd: Int32, path: String)]

    init(paths: [String]) throws(SpoolError) {
        var opened: [(Int32, String)] = []
        for path in paths { opened.append((try FileSystem.openDirectory(path), path)) }
        directories = opened
    }

    deinit {
        for directory in directories { FileSystem.closeDescriptor(directory.fd) }
    }

    /// Syncs done so far (each covers every rename made before it began).
    var syncsCompleted: Int {
        condition.lock()
        defer { condition.unlock() }
        return completed
    }

    /// Returns once every directory has been fsynced by a sync that began after this call.
    func syncAfterNow() throws(SpoolError) {
        condition.lock()
        defer { condition.unlock() }
        let needed = started + 1
        while completed < needed {
            if running {
                condition.wait()
                continue
            }
            running = true
            started += 1
            let generation = started
            condition.unlock()
            var failure: SpoolError?
            for directory in directories {
                do { try FileSystem.sync(directory.fd, path: directory.path) } catch { failure = error }
            }
            condition.lock()
            if let failure { failures[generation] = failure }
            completed = generation
            running = false
            condition.broadcast()
        }
        // A failed sync fails everyone who relied on it; keep only recent failures.
        if let failure = failures[needed] { throw failure }
        failures = failures.filter { $0.key > completed - 64 }
    }
}
