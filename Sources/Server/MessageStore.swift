import MailModel
import NIOCore

/// Where the SMTP driver puts accepted messages: the spool, or (for `relaygate bench sink`) nowhere.
public protocol MessageStore: Sendable {
    func hasRoom(forDeclaredSize size: Int?) -> Bool
    /// Starts a message; the driver calls everything on the message from `eventLoop`.
    func begin(_ queueID: QueueID, on eventLoop: any EventLoop) -> any IncomingMessage
}

/// One message being received. Calls come from one event loop; futures complete on it.
public protocol IncomingMessage: AnyObject {
    func append(_ chunk: ByteBuffer)
    /// True while too much content waits to be written: the driver stops reading from the client.
    var needsBackpressure: Bool { get }
    /// Called when `needsBackpressure` turns false again.
    var onDrained: (() -> Void)? { get set }
    /// Makes the message durable. Only when the future succeeds may the client be told 250.
    func commit(_ envelope: Envelope) -> EventLoopFuture<Void>
    func discard()
}
