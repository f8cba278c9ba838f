import Mailbox
import NIOCore
import NIOPosix

/// An APPENDed message on its way to disk, as its literal's chunks arrive (`IMAPSession.Action.appendChunk`):
/// the driver's side of `MaildirUpload`, written through a `PoolWriteQueue` as SMTP's DATA is.
final class IMAPUploadWriter {
    private let upload: MaildirUpload
    private let queue: PoolWriteQueue

    init(upload: MaildirUpload, threadPool: NIOThreadPool, eventLoop: any EventLoop) {
        self.upload = upload
        queue = PoolWriteQueue(
            threadPool: threadPool, eventLoop: eventLoop, chunkSize: 64 * 1024, highWatermark: 1 << 20
        ) { try upload.write($0) }
    }

    var onDrained: (() -> Void)? {
        get { queue.onDrained }
        set { queue.onDrained = newValue }
    }

    var needsBackpressure: Bool { queue.needsBackpressure }

    func append(_ chunk: ByteBuffer) {
        queue.append(chunk)
    }

    /// The whole message written and made durable.
    func finish() -> EventLoopFuture<MaildirUpload.Finished> {
        let upload = self.upload
        return queue.finish { try upload.finish() }
    }

    /// Drops the file, once the writes before have run.
    func discard() {
        let upload = self.upload
        queue.abandon { upload.discard() }
    }
}
