import Foundation

/// Runs blocking work (a socket read, a child process to its end) on a thread of its own and awaits it.
///
/// Tests run in parallel on Swift's cooperative pool, which has one thread per core. A test that blocks one
/// stalls the others; on a two-core machine a few blocked readers can hold back another test for longer
/// than the server-side deadline it is racing (a shutdown grace, say), and the test fails for no fault of
/// the server's. So nothing here blocks a pool thread.
func unblocked<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

extension Process {
    /// Returns when the process has ended, without holding a pool thread while it runs.
    func exited() async {
        while isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}

/// A child process run to its end: exit status and what it wrote.
struct Finished: Sendable {
    let status: Int32
    let output: Data
    /// Standard error, when it was kept apart from `output`.
    let errors: Data
}

/// Runs `executable` with `arguments` to its end, `input` on its standard input, off the cooperative pool.
/// Standard error joins standard output unless `separateErrors`. After `timeout` the process is killed
/// (SIGKILL), so a program that should have exited at once cannot hang the test.
func runToEnd(
    _ executable: URL, _ arguments: [String], input: String = "", directory: URL? = nil, separateErrors: Bool = false,
    timeout: Duration = .seconds(600)
) async throws -> Finished {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let stdin = Pipe()
    let output = Pipe()
    let errors = separateErrors ? Pipe() : output
    process.standardInput = stdin
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let killer = Task { [process] in
        try await Task.sleep(for: timeout)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    defer { killer.cancel() }
    // Both pipes are drained at once, so a child that fills one while we read the other cannot stall.
    async let errorData = separateErrors ? unblocked { errors.fileHandleForReading.readDataToEndOfFile() } : Data()
    let data = try await unblocked {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        return output.fileHandleForReading.readDataToEndOfFile()
    }
    let errorsRead = try await errorData
    await process.exited()
    return Finished(status: process.terminationStatus, output: data, errors: errorsRead)
}
