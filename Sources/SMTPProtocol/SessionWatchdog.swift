/// Decides when a session has been idle or slow too long. Pure: time is passed in as a monotonic duration
/// since any origin, so the rules are tested without waiting.
///
/// - Waiting for a command: `commandTimeout` since our last reply (RFC 5321 4.5.3.2.7 recommends 5 minutes).
///   The whole command must arrive in that time; bytes alone do not restart it, so a client cannot hold a
///   connection by sending a command one byte every few minutes.
/// - Reading message content: `dataTimeout` without a byte, and, once DATA has lasted `rateGrace`, an
///   average of at least `minimumDataRate` octets a second since the 354, so a client cannot hold a
///   connection for hours by trickling a byte a minute.
/// - Waiting for our own work (commit, password check): nothing expires.
public struct SessionWatchdog: Sendable {
    public struct Limits: Sendable, Equatable {
        public var commandTimeout: Duration = .seconds(300)
        public var dataTimeout: Duration = .seconds(300)
        /// Octets per second; 0 turns the rate check off.
        public var minimumDataRate: Int = 1024
        public var rateGrace: Duration = .seconds(30)

        public init() {}
    }

    public enum Verdict: Equatable, Sendable {
        case fine
        case idle
        case tooSlow
    }

    public let limits: Limits
    private var lastActivity: Duration
    private var dataStarted: Duration?
    private var dataOctets = 0

    public init(limits: Limits, now: Duration) {
        self.limits = limits
        self.lastActivity = now
    }

    /// Octets arrived from the client. Only message content counts as activity; a command counts when it is
    /// answered (`replied`).
    public mutating func received(_ octets: Int, now: Duration, phase: SMTPServerSession.Phase) {
        guard phase == .data else { return }
        lastActivity = now
        if dataStarted == nil { dataStarted = now }
        dataOctets += octets
    }

    /// We sent a reply: the wait for the next command starts again.
    public mutating func replied(now: Duration) {
        lastActivity = now
    }

    /// The session moved to a new phase (DATA started or ended, or a wait for our own work ended).
    public mutating func phaseChanged(to phase: SMTPServerSession.Phase, now: Duration) {
        lastActivity = now
        if phase == .data {
            dataStarted = dataStarted ?? now
        } else {
            dataStarted = nil
            dataOctets = 0
        }
    }

    public func verdict(now: Duration, phase: SMTPServerSession.Phase) -> Verdict {
        switch phase {
        case .waitingForDriver, .closed:
            return .fine
        case .command:
            return now - lastActivity >= limits.commandTimeout ? .idle : .fine
        case .data:
            if now - lastActivity >= limits.dataTimeout { return .idle }
            guard limits.minimumDataRate > 0, let dataStarted else { return .fine }
            let elapsed = now - dataStarted
            guard elapsed >= limits.rateGrace else { return .fine }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return Double(dataOctets) / seconds < Double(limits.minimumDataRate) ? .tooSlow : .fine
        }
    }
}
