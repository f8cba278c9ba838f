#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call on a spool path, with what an operator needs to act: the operation, the path and
/// the system's reason.
public struct SpoolError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let path: String
    public let code: Int32

    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// The few POSIX calls the spool needs, each turning a failure into a `SpoolError`. Plain system calls
/// rather than FileManager, because durability depends on exactly which calls happen (open flags, fdatasync,
/// rename, directory fsync).
enum FileSystem {
    static func check(_ result: Int32, _ operation: String, _ path: String) throws(SpoolError) {
        if result < 0 { throw SpoolError(operation: operation, path: path, code: errno) }
    }

    static func makeDirectory(_ path: String) throws(SpoolError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw SpoolError(operation: "mkdir", path: path, code: errno) }
    }

    static func openDirectory(_ path: String) throws(SpoolError) -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try check(fd, "open", path)
        return fd
    }

    /// Creates a new file; fails if it exists, so two writers can never share one.
    static func createExclusive(_ path: String) throws(SpoolError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        try check(fd, "create", path)
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SpoolError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SpoolError(operation: "write", path: path, code: errno)
            }
            offset += written
        }
    }

    static func dataSync(_ fd: Int32, path: String) throws(SpoolError) {
        #if os(Linux)
            try check(fdatasync(fd), "fdatasync", path)
        #else
            try check(fsync(fd), "fsync", path)
        #endif
    }

    static func sync(_ fd: Int32, path: String) throws(SpoolError) {
        try check(fsync(fd), "fsync", path)
    }

    static func move(_ from: String, to: String) throws(SpoolError) {
        try check(rename(from, to), "rename to \(to)", from)
    }

    static func remove(_ path: String) {
        unlink(path)
    }

    static func closeDescriptor(_ fd: Int32) {
        _ = close(fd)
    }

    /// Names in a directory, without `.` and `..`.
    static func list(_ path: String) throws(SpoolError) -> [String] {
        guard let directory = opendir(path) else { throw SpoolError(operation: "opendir", path: path, code: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func readFile(_ path: String, limit: Int = 16 * 1024 * 1024) throws(SpoolError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try check(fd, "open", path)
        defer { closeDescriptor(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SpoolError(operation: "read", path: path, code: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[..<count])
        }
        return result
    }

    /// Size in octets, or nil if the file does not exist.
    static func size(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Octets available to an unprivileged writer on the file system holding `path`.
    static func availableSpace(_ path: String) -> Int? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }
}
