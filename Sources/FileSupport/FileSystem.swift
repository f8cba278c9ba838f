#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call on a path, with what an operator needs to act: the operation, the path and the
/// system's reason.
public struct FileSystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let path: String
    public let code: Int32

    public init(operation: String, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }

    /// Why a file could not be read, in an operator's words: "does not exist", "cannot be read by uid 998
    /// (permission denied)", "is a directory".
    public var reason: String {
        switch code {
        case ENOENT: "does not exist"
        case EACCES, EPERM: "cannot be read by uid \(geteuid()) (permission denied; check the file's owner and mode)"
        case EISDIR: "is a directory, not a file"
        default: String(cString: strerror(code)).lowercased()
        }
    }
}

/// The few POSIX calls the spool and the mailboxes need, each turning a failure into a `FileSystemError`.
/// Plain system calls rather than FileManager, because durability depends on exactly which calls happen
/// (open flags, fdatasync, rename, directory fsync).
public enum FileSystem {
    public static func check(_ result: Int32, _ operation: String, _ path: String) throws(FileSystemError) {
        if result < 0 { throw FileSystemError(operation: operation, path: path, code: errno) }
    }

    public static func makeDirectory(_ path: String) throws(FileSystemError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw FileSystemError(operation: "mkdir", path: path, code: errno)
        }
    }

    public static func openDirectory(_ path: String) throws(FileSystemError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try check(fd, "open", path)
        return fd
    }

    /// Creates a new file; fails if it exists, so two writers can never share one.
    public static func createExclusive(_ path: String) throws(FileSystemError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        try check(fd, "create", path)
        return fd
    }

    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(FileSystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(operation: "write", path: path, code: errno)
            }
            offset += written
        }
    }

    /// Writes an array's octets (and part of it, with `count`).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], count: Int? = nil, path: String)
        throws(FileSystemError)
    {
        let failure = bytes.withUnsafeBytes { raw -> FileSystemError? in
            do throws(FileSystemError) {
                try writeAll(fd, UnsafeRawBufferPointer(rebasing: raw[..<(count ?? raw.count)]), path: path)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    public static func dataSync(_ fd: Int32, path: String) throws(FileSystemError) {
        #if os(Linux)
            try check(fdatasync(fd), "fdatasync", path)
        #else
            try check(fsync(fd), "fsync", path)
        #endif
    }

    public static func sync(_ fd: Int32, path: String) throws(FileSystemError) {
        try check(fsync(fd), "fsync", path)
    }

    public static func move(_ from: String, to: String) throws(FileSystemError) {
        try check(rename(from, to), "rename to \(to)", from)
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    public static func closeDescriptor(_ fd: Int32) {
        _ = close(fd)
    }

    /// Names in a directory, without `.` and `..`.
    public static func list(_ path: String) throws(FileSystemError) -> [String] {
        guard let directory = opendir(path) else {
            throw FileSystemError(operation: "opendir", path: path, code: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(directory) {
            // Read the name in place, up to its NUL. Copying `entry.pointee` (or its d_name) would read the
            // full 256-octet array, but readdir's record is only d_reclen long: at the end of its buffer that
            // reads past the mapping and crashes.
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func readFile(_ path: String, limit: Int = 16 * 1024 * 1024) throws(FileSystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try check(fd, "open", path)
        defer { closeDescriptor(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(operation: "read", path: path, code: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[..<count])
        }
        return result
    }

    /// Up to `count` octets from `offset` of an open file (fewer at its end). Does not move the file offset.
    public static func readRange(_ fd: Int32, from offset: Int, count: Int, path: String) throws(FileSystemError)
        -> [UInt8]
    {
        var result = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = result.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + filled, count - filled, off_t(offset + filled))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(operation: "read", path: path, code: errno)
            }
            if got == 0 { break }
            filled += got
        }
        result.removeLast(count - filled)
        return result
    }

    /// The size of an open file.
    public static func size(of fd: Int32, path: String) throws(FileSystemError) -> Int {
        var info = stat()
        try check(fstat(fd, &info), "stat", path)
        return Int(info.st_size)
    }

    /// A second name for an existing file (same file system): no copy, no new inode.
    public static func hardLink(_ existing: String, as newName: String) throws(FileSystemError) {
        try check(link(existing, newName), "link to \(newName)", existing)
    }

    /// Replaces a file whole: written beside it, fsynced, renamed over it. Readers see the old or the new.
    public static func replaceFile(_ path: String, _ bytes: [UInt8]) throws(FileSystemError) {
        let temporary = path + ".tmp-\(getpid())"
        remove(temporary)
        let fd = try createExclusive(temporary)
        do throws(FileSystemError) {
            defer { closeDescriptor(fd) }
            try writeAll(fd, bytes, path: temporary)
            try dataSync(fd, path: temporary)
            try move(temporary, to: path)
        } catch {
            remove(temporary)
            throw error
        }
    }

    /// Removes a directory and everything in it (no symbolic link is followed).
    public static func removeTree(_ path: String) throws(FileSystemError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw FileSystemError(operation: "lstat", path: path, code: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try list(path) { try removeTree(path + "/" + name) }
            try check(rmdir(path), "rmdir", path)
        } else {
            try check(unlink(path), "unlink", path)
        }
    }

    /// Size in octets, or nil if the file does not exist.
    public static func size(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Octets available to an unprivileged writer on the file system holding `path`.
    public static func availableSpace(_ path: String) -> Int? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }
}
