import MailModel
import NIOCore
import NIOPosix
import Spool
import Synchronization

/// Puts messages into the `Spool`, doing its blocking file work on a thread pool.
///
/// Small messages are kept in memory until commit, so a typical message costs one trip to the pool: write,
/// fdatasync, envelope, renames, directory sync. Larger content is written in chunks as it arrives, one
/// write in flight at a time per message; while more than `highWatermark` octets wait, the driver stops
/// reading from the client, so memory per connection stays bounded whatever the message size.
public final class SpoolMessageStore: MessageStore {
    public let spool: Spool
    private let threadPool: NIOThreadPool
    let chunkSize: Int
    let highWatermark: Int

    /// The last free-space figure, and when it was taken (`statvfs` is not for an event loop: on a network
    /// file system it can block).
    private let freeSpace: Mutex<FreeSpace>
    private struct FreeSpace {
        var octets: Int?
        var takenAt: NIODeadline
        var refreshing = false
    }
    /// Called with each message's envelope, as stored, once it is durable (delivery takes it from there
    /// without reading it back).
    public let committed: (@Sendable (Envelope) -> Void)?
    /// How old the free-space figure may be before a MAIL asks for a fresh one.
    static let freeSpaceMaximumAge = TimeAmount.seconds(1)

    public init(
        spool: Spool, threadPool: NIOThreadPool, chunkSize: Int = 256 * 1024, highWatermark: Int = 1024 * 1024,
        committed: (@Sendable (Envelope) -> Void)? = nil
    ) {
        self.committed = committed
        self.spool = spool
        self.threadPool = threadPool
        self.chunkSize = chunkSize
        self.highWatermark = highWatermark
        freeSpace = Mutex(FreeSpace(octets: spool.availableSpace(), takenAt: .now()))
    }

    /// Decides from the last figure, at most a second old under load; a stale one is refreshed on the thread
    /// pool for the next MAIL.
    public func hasRoom(forDeclaredSize size: Int?) -> Bool {
        let now = NIODeadline.now()
        let (octets, refresh) = freeSpace.withLock { state in
            let refresh = !state.refreshing && now - state.takenAt > Self.freeSpaceMaximumAge
            if refresh { state.refreshing = true }
            return (state.octets, refresh)
        }
        if refresh {
            threadPool.submit { [self] _ in
                let octets = spool.availableSpace()
                freeSpace.withLock { $0 = FreeSpace(octets: octets, takenAt: .now()) }
            }
        }
        return spool.hasRoom(forDeclaredSize: size, available: octets)
    }

    public func begin(_ queueID: QueueID, on eventLoop: any EventLoop) -> any IncomingMessage {
        SpooledMessage(
            writer: spool.makeWriter(for: queueID), store: self, threadPool: threadPool, eventLoop: eventLoop)
    }
}

/// A message on its way into the spool. Lives on one event loop.
final class SpooledMessage: IncomingMessage {
    private let writer: SpoolMessageWriter
    private let store: SpoolMessageStore
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let queue: PoolWriteQueue

    init(writer: SpoolMessageWriter, store: SpoolMessageStore, threadPool: NIOThreadPool, eventLoop: any EventLoop) {
        self.writer = writer
        self.store = store
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        queue = PoolWriteQueue(
            threadPool: threadPool, eventLoop: eventLoop, chunkSize: store.chunkSize,
            highWatermark: store.highWatermark
        ) { try writer.write($0) }
    }

    var onDrained: (() -> Void)? {
        get { queue.onDrained }
        set { queue.onDrained = newValue }
    }

    var needsBackpressure: Bool { queue.needsBackpressure }

    func append(_ chunk: ByteBuffer) {
        queue.append(chunk)
    }

    func commit(_ envelope: Envelope) -> EventLoopFuture<Void> {
        let writer = self.writer
        return queue.finish { try writer.commit(envelope) }.map { [store] in
            store.committed?(envelope)
        }.flatMapError { [threadPool, eventLoop] error in
            // An earlier chunk failed: drop what was written, then report the failure.
            threadPool.runIfActive(eventLoop: eventLoop) { writer.discard() }.flatMapThrowing { throw error }
        }
    }

    func discard() {
        let writer = self.writer
        queue.abandon { writer.discard() }
    }
}
