import MailModel
import NIOCore
import Synchronization

/// A store that keeps nothing: the SMTP server with it is `relaygate bench sink`, which measures a client
/// (or another MTA) without our spool in the way, as Postfix's smtp-sink does.
public final class DiscardingMessageStore: MessageStore {
    private let counters = Mutex<(messages: Int, octets: Int)>((0, 0))

    public init() {}

    public var totals: (messages: Int, octets: Int) { counters.withLock { $0 } }

    public func hasRoom(forDeclaredSize size: Int?) -> Bool { true }

    public func begin(_ queueID: QueueID, on eventLoop: any EventLoop) -> any IncomingMessage {
        DiscardedMessage(store: self, eventLoop: eventLoop)
    }

    fileprivate func count(octets: Int) {
        counters.withLock {
            $0.messages += 1
            $0.octets += octets
        }
    }
}

private final class DiscardedMessage: IncomingMessage {
    private let store: DiscardingMessageStore
    private let eventLoop: any EventLoop
    private var octets = 0
    var onDrained: (() -> Void)?

    init(store: DiscardingMessageStore, eventLoop: any EventLoop) {
        self.store = store
        self.eventLoop = eventLoop
    }

    var needsBackpressure: Bool { false }

    func append(_ chunk: ByteBuffer) { octets += chunk.readableBytes }

    func commit(_ envelope: Envelope) -> EventLoopFuture<Void> {
        store.count(octets: octets)
        return eventLoop.makeSucceededVoidFuture()
    }

    func discard() {}
}
