import FileSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A message being APPENDed, written to a folder's tmp/ as it arrives, so a large one is never held in
/// memory (IMAP streams its literal here, as SMTP streams DATA into the spool). `finish` makes it durable;
/// `MaildirFolder.append(_ upload:)` then gives it its name and UID. Dropped unfinished, it leaves nothing.
/// Blocking: a pool thread, one caller at a time.
public final class MaildirUpload: Sendable {
    private struct State {
        var fd: Int32?
        var counter = LineEndCounter()
        var done = false
    }

    public let path: String
    private let state: Mutex<State>
    /// Makes sure the directory is there before the file is made (a mailbox no mail has reached yet).
    private let prepare: @Sendable () throws(FileSystemError) -> Void

    /// A written, durable upload: where it is and its sizes (on disk, and with CRLF line ends).
    public struct Finished: Sendable {
        public let path: String
        public let octets: Int
        public let wireOctets: Int
    }

    /// A new file in `folder`'s tmp/, created by the first write after `prepare` (no I/O here: this is made
    /// on an event loop).
    public init(
        in folder: MaildirFolder, hostname: String,
        prepare: @escaping @Sendable () throws(FileSystemError) -> Void = {}
    ) {
        path = folder.path + "/tmp/" + MaildirFolder.uniqueName(hostname: hostname) + ".upload"
        state = Mutex(State())
        self.prepare = prepare
    }

    /// The file, made on first use.
    private func descriptor(_ state: inout State) throws(FileSystemError) -> Int32 {
        if let fd = state.fd { return fd }
        try prepare()
        let fd = try FileSystem.createExclusive(path)
        state.fd = fd
        return fd
    }

    deinit {
        discard()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        try state.withLock { (state: inout State) throws(FileSystemError) in
            guard !state.done else { return }
            try FileSystem.writeAll(try descriptor(&state), bytes, path: path)
            state.counter.count(ArraySlice(bytes.bindMemory(to: UInt8.self)))
        }
    }

    public func finish() throws(FileSystemError) -> Finished {
        try state.withLock { (state: inout State) throws(FileSystemError) -> Finished in
            guard !state.done else { throw FileSystemError(operation: "finish an upload", path: path, code: EBADF) }
            let fd = try descriptor(&state)
            state.fd = nil
            state.done = true
            defer { FileSystem.closeDescriptor(fd) }
            do throws(FileSystemError) {
                try FileSystem.sync(fd, path: path)
            } catch {
                FileSystem.remove(path)
                throw error
            }
            // From here the file is the caller's: `MaildirFolder.append(_:)` files it, or the caller removes it.
            return Finished(path: path, octets: state.counter.octets, wireOctets: state.counter.wireOctets)
        }
    }

    /// Drops the file (the client went away, or the command failed).
    public func discard() {
        let fd: Int32? = state.withLock { state in
            defer {
                state.fd = nil
                state.done = true
            }
            return state.done ? nil : state.fd
        }
        if let fd {
            FileSystem.closeDescriptor(fd)
            FileSystem.remove(path)
        }
    }
}

extension MaildirFolder {
    /// Files a finished upload into this folder (which may be another folder of the same mailbox than the
    /// one it was written in): like `append`, with its flags, keywords and internal date, and the next UID.
    public func append(
        _ upload: MaildirUpload.Finished, flags: MessageFlags, keywords: [String] = [], internalDate: Int?,
        hostname: String
    ) throws(FileSystemError) -> Placed {
        if let internalDate { setModificationTime(upload.path, internalDate) }
        let base = "\(MaildirFolder.uniqueName(hostname: hostname)),S=\(upload.octets),W=\(upload.wireOctets)"
        return try place(
            upload.path, as: MaildirFileName(base: base, flags: flags), keywords: keywords, size: upload.wireOctets)
    }
}
