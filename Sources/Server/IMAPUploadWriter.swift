import Mailbox
import NIOCore
import NIOPosix

/// An APPENDed message on its way to disk, as its literal's chunks arrive (`IMAPSession.Action.appendChunk`):
/// the driver's side of `MaildirUpload`. Lives on one event loop; the writes go to the thread pool in order.
/// While more than `highWatermark` octets wait to be written the driver stops reading, so a client faster
/// than the disk is held back rather than buffered.
final class IMAPUploadWriter {
    static let chunkSize = 64 * 1024
    static let highWatermark = 1 << 20

    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    /// The upload, once opened and after every write handed to the pool so far.
    private var lastWrite: EventLoopFuture<MaildirUpload>
    private var buffered = ByteBuffer()
    private var octetsInFlight = 0
    /// Called when the writes fall back under the watermark: reading may go on.
    var onDrained: (() -> Void)?

    init(
        threadPool: NIOThreadPool, eventLoop: any EventLoop, open: @escaping @Sendable () throws -> MaildirUpload
    ) {
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        lastWrite = threadPool.runIfActive(eventLoop: eventLoop) { try open() }
    }

    var needsBackpressure: Bool { octetsInFlight + buffered.readableBytes > Self.highWatermark }

    func append(_ chunk: ByteBuffer) {
        var chunk = chunk
        buffered.writeBuffer(&chunk)
        if buffered.readableBytes >= Self.chunkSize { flush() }
    }

    private func flush() {
        let data = buffered
        buffered = ByteBuffer()
        let octets = data.readableBytes
        guard octets > 0 else { return }
        octetsInFlight += octets
        lastWrite = lastWrite.flatMap { [threadPool, eventLoop] upload in
            threadPool.runIfActive(eventLoop: eventLoop) {
                try data.withUnsafeReadableBytes { try upload.write($0) }
                return upload
            }
        }
        lastWrite.assumeIsolated().whenComplete { [weak self] _ in
            guard let self else { return }
            let wasPressing = self.needsBackpressure
            self.octetsInFlight -= octets
            if wasPressing && !self.needsBackpressure { self.onDrained?() }
        }
    }

    /// The whole message written and made durable.
    func finish() -> EventLoopFuture<MaildirUpload.Finished> {
        flush()
        return lastWrite.flatMap { [threadPool, eventLoop] upload in
            threadPool.runIfActive(eventLoop: eventLoop) { try upload.finish() }
        }
    }

    /// Drops the file, once the writes before have run.
    func discard() {
        buffered.clear()
        lastWrite.whenSuccess { [threadPool] upload in threadPool.submit { _ in upload.discard() } }
    }
}
