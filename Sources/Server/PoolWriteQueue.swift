import NIOCore
import NIOPosix

/// Content arriving on an event loop, written in order on the thread pool to a blocking sink (SMTP's DATA
/// into the spool, IMAP's APPEND into a Maildir). Chunks are gathered up to `chunkSize` and one write is in
/// flight at a time. While more than `highWatermark` octets wait to be written, `needsBackpressure` is true
/// and the driver stops reading; `onDrained` says when it may go on, so a client faster than the disk is
/// held back rather than buffered. Lives on one event loop.
final class PoolWriteQueue {
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let chunkSize: Int
    private let highWatermark: Int
    private let write: @Sendable (UnsafeRawBufferPointer) throws -> Void
    private var buffered = ByteBuffer()
    /// The last write handed to the pool; the next one waits for it, so writes stay in order.
    private var lastWrite: EventLoopFuture<Void>
    private var octetsInFlight = 0
    /// Called when `needsBackpressure` turns false again.
    var onDrained: (() -> Void)?

    init(
        threadPool: NIOThreadPool, eventLoop: any EventLoop, chunkSize: Int, highWatermark: Int,
        write: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) {
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.chunkSize = chunkSize
        self.highWatermark = highWatermark
        self.write = write
        lastWrite = eventLoop.makeSucceededVoidFuture()
    }

    var needsBackpressure: Bool { octetsInFlight + buffered.readableBytes > highWatermark }

    func append(_ chunk: ByteBuffer) {
        var chunk = chunk
        buffered.writeBuffer(&chunk)
        if buffered.readableBytes >= chunkSize { flush() }
    }

    private func flush() {
        let data = buffered
        buffered = ByteBuffer()
        let octets = data.readableBytes
        octetsInFlight += octets
        let write = self.write
        lastWrite = lastWrite.flatMap { [threadPool, eventLoop] in
            threadPool.runIfActive(eventLoop: eventLoop) { try data.withUnsafeReadableBytes { try write($0) } }
        }
        lastWrite.assumeIsolated().whenComplete { [weak self] _ in
            guard let self else { return }
            let wasPressing = self.needsBackpressure
            self.octetsInFlight -= octets
            if wasPressing && !self.needsBackpressure { self.onDrained?() }
        }
    }

    /// After every write: the rest of what is buffered, then `last`, in one pool task (one hop, not two,
    /// on the way to a client's reply). Fails if any write failed.
    func finish<Result: Sendable>(_ last: @escaping @Sendable () throws -> Result) -> EventLoopFuture<Result> {
        let tail = buffered
        buffered = ByteBuffer()
        let write = self.write
        return lastWrite.flatMap { [threadPool, eventLoop] in
            threadPool.runIfActive(eventLoop: eventLoop) {
                if tail.readableBytes > 0 { try tail.withUnsafeReadableBytes { try write($0) } }
                return try last()
            }
        }
    }

    /// Drops what is buffered; `then` runs on the pool once the writes already handed to it are over,
    /// whatever came of them.
    func abandon(then: @escaping @Sendable () -> Void) {
        buffered.clear()
        lastWrite.whenComplete { [threadPool] _ in threadPool.submit { _ in then() } }
    }
}
