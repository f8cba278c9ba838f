/// What the session asks of the mailbox store, and what comes back. The driver carries requests out off
/// the event loop (they touch files) and hands the result to `IMAPSession.requestFinished`. Folder names
/// are as the client sent them; the store checks them.
public enum IMAPRequest: Equatable, Sendable {
    case select(String, readOnly: Bool)
    /// LIST or LSUB: the folders (or subscriptions) that match, as `ListEntry.matching` says.
    case list(pattern: String, subscribedOnly: Bool)
    case status(String)
    case create(String)
    case delete(String)
    case rename(String, to: String)
    case subscribe(String, Bool)
    /// Messages of the selected folder, by UID; their content when `content`, and \Seen set first when
    /// `markSeen`.
    case fetch(uids: [UInt32], content: Bool, markSeen: Bool)
    /// STORE: change the flags of these messages of the selected folder, from the flags their files have
    /// now (another session may have changed them since this one looked).
    case storeFlags(uids: [UInt32], IMAPCommand.StoreMode, flags: [String])
    /// Remove these messages of the selected folder.
    case expunge(uids: [UInt32])
    /// The selected folder as it is now (NOOP, CHECK, IDLE).
    case refresh
    /// Store a new message in a folder (APPEND); `date` in seconds since 1970.
    case append(String, flags: [String], date: Int?, message: [UInt8])
    /// The same for a message the driver has been writing as it came (`IMAPSession.Action.appendBegin`).
    case appendStreamed(String, flags: [String], date: Int?)
    /// Whether APPEND may put a message in this folder: asked before a large synchronizing literal is let
    /// in, so a message for a folder that is not there is refused ([TRYCREATE]) before it is sent.
    case appendTarget(String)
    /// Copy messages of the selected folder to another; with `move`, remove them here afterwards.
    case copy(uids: [UInt32], to: String, move: Bool)
    /// SEARCH one batch of the selected folder: evaluated where the content is read, off the event loop.
    case search(SearchRequest)
}

/// A batch of SEARCH candidates, with what the key needs of the session's view.
public struct SearchRequest: Equatable, Sendable {
    public var key: SearchKey
    /// (sequence number, message as the session sees it), in order.
    public var candidates: [SearchEvaluator.Candidate]
    public var largestUID: UInt32
    public var count: Int

    public init(key: SearchKey, candidates: [SearchEvaluator.Candidate], largestUID: UInt32, count: Int) {
        self.key = key
        self.candidates = candidates
        self.largestUID = largestUID
        self.count = count
    }

    /// Evaluates the batch; `load` gives a message's internal date and, when `content` is asked, its octets
    /// (nil when it is gone). Returns the UIDs that match and the content octets read.
    public func evaluate(load: (UInt32, _ content: Bool) -> (internalDate: Int, content: [UInt8]?)?) -> (
        matching: [UInt32], octetsRead: Int
    ) {
        let evaluator = SearchEvaluator(key: key, largestUID: largestUID, count: count)
        let content = SearchEvaluator.needsContent(key)
        var matching: [UInt32] = []
        var read = 0
        for candidate in candidates {
            guard let loaded = load(candidate.message.uid, content) else { continue }
            read += loaded.content?.count ?? 0
            let subject = SearchEvaluator.Subject(
                sequence: candidate.sequence, message: candidate.message, internalDate: loaded.internalDate,
                content: loaded.content)
            if evaluator.matches(subject) { matching.append(candidate.message.uid) }
        }
        return (matching, read)
    }
}

public enum IMAPResult: Equatable, Sendable {
    case selected(FolderView)
    case listed([ListEntry])
    case status(FolderView)
    /// Done; or refused, with the text after `NO`.
    case done(refusal: String?)
    case fetched([FetchedMessage])
    /// The flags messages have now (a message gone is left out).
    case flagsSet([UInt32: [String]])
    case expunged([UInt32])
    case refreshed(FolderView)
    /// Where an APPENDed message landed (UIDPLUS APPENDUID).
    case appended(uidValidity: UInt32, uid: UInt32)
    /// Where copies landed (UIDPLUS COPYUID): source and destination UIDs pair by position.
    case copied(uidValidity: UInt32, source: [UInt32], destination: [UInt32])
    /// A SEARCH batch's matches, by UID, and the content octets it read.
    case searched(matching: [UInt32], octetsRead: Int)
}

/// A folder as a snapshot saw it.
public struct FolderView: Equatable, Sendable {
    public var uidValidity: UInt32
    public var uidNext: UInt32
    /// In UID order.
    public var messages: [MessageView]
    /// The keywords the folder knows (FLAGS and PERMANENTFLAGS list them).
    public var keywords: [String]
    /// No new keyword fits (PERMANENTFLAGS then has no `\*`).
    public var keywordsFull: Bool

    public init(
        uidValidity: UInt32, uidNext: UInt32, messages: [MessageView], keywords: [String] = [],
        keywordsFull: Bool = false
    ) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.messages = messages
        self.keywords = keywords
        self.keywordsFull = keywordsFull
    }
}

public struct MessageView: Equatable, Sendable {
    public var uid: UInt32
    /// IMAP flag names: system flags (`\Seen`, ...) and keywords (`$Junk`, ...).
    public var flags: [String]
    public var recent: Bool
    /// Octets with CRLF line ends (RFC822.SIZE).
    public var size: Int

    public init(uid: UInt32, flags: [String], recent: Bool, size: Int) {
        self.uid = uid
        self.flags = flags
        self.recent = recent
        self.size = size
    }
}

/// One message as FETCH needs it.
public struct FetchedMessage: Equatable, Sendable {
    public var uid: UInt32
    /// Seconds since 1970.
    public var internalDate: Int
    /// The stored octets, when asked for.
    public var content: [UInt8]?
    /// The flags after \Seen was set, when that changed them.
    public var newFlags: [String]?

    public init(uid: UInt32, internalDate: Int, content: [UInt8]?, newFlags: [String]?) {
        self.uid = uid
        self.internalDate = internalDate
        self.content = content
        self.newFlags = newFlags
    }
}
