import FileSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Who may change a spool, by flock(2) on two files in it. The kernel drops a process's locks when it ends,
/// however it ends (kill -9 included), so a lock is never left stale.
///
/// - `lock`, the **owner** lock: `relaygate serve` holds it exclusively from before recovery until it exits,
///   with its PID written in the file. A second server on the same spool would deliver every message a
///   second time; it finds the lock held and stops before it touches anything, naming the PID.
/// - `lock.queue`, the **queue** lock: the server holds it while it recovers the spool at start, and each
///   `relaygate queue` command that moves a message (retry, hold, release, delete, bounce) holds it while
///   it acts. So no command sees a half-recovered spool, and recovery never sees a command's half-done
///   work. Outside recovery a command and the running server share the spool safely: every change either
///   makes is one rename, and whoever renames a file first owns it (`Spool+Operator`).
public final class SpoolLock: Sendable {
    public enum Kind: String, Sendable {
        case owner = "lock"
        case queue = "lock.queue"
    }

    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Takes the lock at once, or throws `SpoolInUse` naming the process that holds it. Creates the spool
    /// directory if it is not there yet (nothing else).
    public static func acquire(_ kind: Kind, spool directory: String) throws -> SpoolLock {
        let (path, fd) = try openLockFile(kind, spool: directory)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = holderPID(fd)
            close(fd)
            if code == EWOULDBLOCK { throw SpoolInUse(directory: directory, kind: kind, pid: holder) }
            throw FileSystemError(operation: "flock", path: path, code: code)
        }
        return try claimed(path: path, fd: fd)
    }

    /// Takes the lock, waiting for its holder to let go; `waiting` is called once, with the holder's PID,
    /// if it has to wait.
    public static func acquireWaiting(
        _ kind: Kind, spool directory: String, waiting: (_ holder: Int32?) -> Void
    ) throws -> SpoolLock {
        let (path, fd) = try openLockFile(kind, spool: directory)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                let code = errno
                close(fd)
                throw FileSystemError(operation: "flock", path: path, code: code)
            }
            waiting(holderPID(fd))
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let code = errno
                    close(fd)
                    throw FileSystemError(operation: "flock", path: path, code: code)
                }
            }
        }
        return try claimed(path: path, fd: fd)
    }

    /// The PID of the process holding the owner lock of `directory`, nil when no server runs on it.
    /// For tools that only want to say whether a server will notice their change.
    public static func runningServer(spool directory: String) -> Int32? {
        let path = directory + "/" + Kind.owner.rawValue
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A shared lock is refused while the server holds its exclusive one.
        guard flock(fd, LOCK_SH | LOCK_NB) != 0, errno == EWOULDBLOCK else { return nil }
        return holderPID(fd)
    }

    private static func openLockFile(_ kind: Kind, spool directory: String) throws(FileSystemError) -> (String, Int32) {
        try FileSystem.makeDirectory(directory)
        let path = directory + "/" + kind.rawValue
        // Never through a symlink, and only a plain file: the spool's owner must not be able to make root
        // truncate or hand over another file by putting a link where the lock goes.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        try FileSystem.check(fd, "open", path)
        var file = stat()
        guard fstat(fd, &file) == 0, (file.st_mode & S_IFMT) == S_IFREG, file.st_nlink == 1 else {
            close(fd)
            throw FileSystemError(operation: "lock (not a plain file)", path: path, code: EINVAL)
        }
        // Root (a queue command run with sudo) must not leave a lock file the server's own user cannot open.
        var spool = stat()
        if geteuid() == 0, stat(directory, &spool) == 0, file.st_uid != spool.st_uid {
            _ = fchown(fd, spool.st_uid, spool.st_gid)
        }
        return (path, fd)
    }

    /// Writes our PID into a lock we now hold, for whoever finds it held.
    private static func claimed(path: String, fd: Int32) throws -> SpoolLock {
        let text = Array("\(getpid())\n".utf8)
        do {
            try FileSystem.check(ftruncate(fd, 0), "truncate", path)
            try FileSystem.writeAll(fd, text, path: path)
        } catch {
            close(fd)
            throw error
        }
        return SpoolLock(path: path, descriptor: fd)
    }

    private static func holderPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return Int32(text.split(separator: "\n").first ?? "")
    }
}

/// Another process holds a spool's lock.
public struct SpoolInUse: Error, CustomStringConvertible, Sendable {
    public let directory: String
    public let kind: SpoolLock.Kind
    public let pid: Int32?

    public var description: String {
        let holder = pid.map { "PID \($0)" } ?? "a process that did not say its PID"
        switch kind {
        case .owner:
            return "spool \(directory) is in use by another relaygate server (\(holder)); two servers on one spool "
                + "would deliver every message twice. Stop that one first (kill -TERM \(pid.map(String.init) ?? "PID")), "
                + "or give this one its own spool (--spool DIR, or spool: in relaygate.yaml)"
        case .queue:
            return "spool \(directory) is being changed by \(holder) (a queue command, or a server recovering it); try again in a moment"
        }
    }
}
