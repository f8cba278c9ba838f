import FileSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Spool files are reused rather than deleted and created anew. Each message costs the file system two
/// inode allocations (body and envelope) and, once delivered, two frees. On ext4 without a journal, finding
/// a free inode means stepping over every recently freed one, and at a thousand messages a second that
/// search was the largest single cost in a profile of the end-to-end benchmark; with recycling the same
/// benchmark runs about a third faster (docs/benchmarks.md). A finished file is renamed into tmp/ instead
/// (which takes it out of its directory just as unlink would) and later renamed to where a new file is
/// wanted, and truncated.
///
/// - Recycled files live only in tmp/, which recovery empties at start: a crash leaves nothing behind.
/// - A reused file is truncated before anything is written to it: no old content survives in it.
/// - Only small files are kept (`largestKept`), at most `capacity` of them, so the pool holds little space;
///   anything else is deleted as before.
final class FileRecycler: Sendable {
    private let directory: String
    private let capacity: Int
    private let largestKept: Int
    private let free = Mutex<[String]>([])
    private let names = Atomic<Int>(0)
    /// How recycled files in tmp/ are named (the rest of the name is a counter).
    static let prefix = "recycled."

    init(directory: String, capacity: Int = 1024, largestKept: Int = 64 * 1024) {
        self.directory = directory
        self.capacity = capacity
        self.largestKept = largestKept
    }

    /// How many files wait to be reused.
    var count: Int { free.withLock { $0.count } }

    /// Opens a new, empty file at `path` for writing: a recycled one when there is one, else a new one.
    func create(_ path: String) throws(SpoolError) -> Int32 {
        if let name = free.withLock({ $0.popLast() }) {
            if rename(name, path) == 0 {
                let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
                if fd >= 0 { return fd }
                FileSystem.remove(path)
            } else {
                FileSystem.remove(name)
            }
        }
        return try FileSystem.createExclusive(path)
    }

    /// Takes `path` out of its directory, as unlink would, keeping the file for reuse when it is small and
    /// there is room. A file with another name (an envelope that is a link to its body) is only unlinked:
    /// reusing it would hand one file to two writers.
    func retire(_ path: String) {
        var status = stat()
        let keep =
            stat(path, &status) == 0 && status.st_nlink == 1 && Int(status.st_size) <= largestKept
            && free.withLock { $0.count < capacity }
        let name = directory + "/" + Self.prefix + String(names.add(1, ordering: .relaxed).newValue)
        guard keep, rename(path, name) == 0 else { return FileSystem.remove(path) }
        free.withLock { $0.append(name) }
    }
}
