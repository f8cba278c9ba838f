import FileSupport

/// A failed system call on a spool path (the operation, the path and the system's reason).
public typealias SpoolError = FileSystemError
