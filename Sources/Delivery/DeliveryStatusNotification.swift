import MailModel
import SMTPProtocol

/// A delivery status notification (RFC 3464): a `multipart/report` from the null sender telling the
/// envelope sender that mail failed (or is delayed). Its three parts: a few lines for a person, the
/// machine-readable `message/delivery-status`, and the original headers (`text/rfc822-headers`), or the
/// whole original (`message/rfc822`) when the sender asked for RET=FULL.
public struct DeliveryStatusNotification: Sendable {
    public enum Kind: Sendable {
        case failed
        case delayed
        /// NOTIFY=SUCCESS for a local delivery (RFC 3464 "delivered").
        case delivered
        /// NOTIFY=SUCCESS for mail passed to a next hop that does not do DSN, so it cannot tell (RFC 3461
        /// 6.2.1.1: "relayed"). A next hop that does DSN got NOTIFY with the message and reports itself.
        case relayed

        var action: String {
            switch self {
            case .failed: "failed"
            case .delayed: "delayed"
            case .delivered: "delivered"
            case .relayed: "relayed"
            }
        }

        var condition: NotifyConditions.Condition {
            switch self {
            case .failed: .failure
            case .delayed: .delay
            case .delivered, .relayed: .success
            }
        }
    }

    public struct Entry: Sendable {
        public var recipient: Recipient
        public var failure: SMTPClientSession.Failure?
        /// The host that gave the reply (RFC 3464 2.3.5), when one did.
        public var remoteMTA: String?

        public init(recipient: Recipient, failure: SMTPClientSession.Failure?, remoteMTA: String? = nil) {
            self.recipient = recipient
            self.failure = failure
            self.remoteMTA = remoteMTA
        }
    }

    public var kind: Kind
    public var reportingHost: String
    public var original: Envelope
    public var entries: [Entry]
    /// Seconds since 1970, for the Date field.
    public var now: Int
    /// For a delay warning: when the message will be given up on (RFC 3464 2.3.9), seconds since 1970.
    public var willRetryUntil: Int?

    public init(kind: Kind, reportingHost: String, original: Envelope, entries: [Entry], now: Int) {
        self.kind = kind
        self.reportingHost = reportingHost
        self.original = original
        self.entries = entries
        self.now = now
    }

    /// Whether one is owed: never to the null sender (RFC 5321 6.1: that is how bounce loops start), and
    /// only for recipients whose NOTIFY allows it.
    public static func recipients(
        _ indices: [Int], of envelope: Envelope, for kind: Kind
    ) -> [Int] {
        guard envelope.sender != .null else { return [] }
        return indices.filter { index in
            // Without NOTIFY, failures and delays are reported (RFC 3461 4.1), successes are not.
            guard let notify = envelope.recipients[index].notify else { return kind.condition != .success }
            return notify.conditions.contains(kind.condition)
        }
    }

    /// The failure and delay notifications an attempt's outcome owes the sender.
    public static func owed(
        by outcome: AttemptOutcome, of envelope: Envelope, reportingHost: String, now: Int, retryUntil: Int? = nil,
        remoteMTA: (Int) -> String? = { _ in nil }
    ) -> [DeliveryStatusNotification] {
        var owed: [DeliveryStatusNotification] = []
        let failed = recipients(outcome.failed.map(\.index), of: envelope, for: .failed)
        if !failed.isEmpty {
            let failures = Dictionary(outcome.failed.map { ($0.index, $0.failure) }, uniquingKeysWith: { first, _ in first })
            owed.append(
                DeliveryStatusNotification(
                    kind: .failed, reportingHost: reportingHost, original: envelope,
                    entries: failed.map {
                        .init(recipient: envelope.recipients[$0], failure: failures[$0], remoteMTA: remoteMTA($0))
                    }, now: now))
        }
        let delayed = recipients(outcome.delayed, of: envelope, for: .delayed)
        if !delayed.isEmpty {
            var notification = DeliveryStatusNotification(
                kind: .delayed, reportingHost: reportingHost, original: envelope,
                entries: delayed.map { index in
                    .init(
                        recipient: envelope.recipients[index], failure: lastFailure(envelope.recipients[index]),
                        remoteMTA: remoteMTA(index))
                }, now: now)
            notification.willRetryUntil = retryUntil
            owed.append(notification)
        }
        return owed
    }

    /// The message, CRLF line ends. `originalContent` is the stored message (our Received field first).
    public func render(originalContent: [UInt8], boundaryToken: String) -> [UInt8] {
        let boundary = "\(boundaryToken)/\(reportingHost)"
        let date = RFC5322Date.format(secondsSince1970: now)
        var text = ""
        func line(_ value: String = "") { text += value + "\r\n" }
        line("From: Mail Delivery System <MAILER-DAEMON@\(reportingHost)>")
        line("To: \(original.sender)")
        line(
            "Subject: "
                + {
                    switch kind {
                    case .failed: "Undelivered Mail Returned to Sender"
                    case .delayed: "Delayed Mail (still being retried)"
                    case .delivered, .relayed: "Successful Mail Delivery Report"
                    }
                }())
        line("Date: \(date)")
        line("Message-ID: <\(original.queueID).\(boundaryToken)@\(reportingHost)>")
        line("Auto-Submitted: auto-replied")
        line("MIME-Version: 1.0")
        line("Content-Type: multipart/report; report-type=delivery-status;")
        line("\tboundary=\"\(boundary)\"")
        line("Content-Transfer-Encoding: 8bit")
        line()
        line("This is a MIME-encapsulated message.")
        line()
        line("--\(boundary)")
        line("Content-Type: text/plain; charset=utf-8")
        line()
        line("This is the mail system at \(reportingHost).")
        line()
        switch kind {
        case .failed:
            line("Your message could not be delivered to one or more recipients. It is attached below.")
        case .delayed:
            line("Your message could not be delivered yet to one or more recipients. Delivery will be")
            line("retried; you do not need to send it again.")
        case .delivered:
            line("Your message was delivered to the recipients below, as you asked to be told.")
        case .relayed:
            line("Your message was passed on to the recipients below, as you asked to be told. The next mail")
            line("system does not report delivery, so this is the last notice you will get.")
        }
        line()
        for entry in entries {
            line("<\(entry.recipient.address)>: \(entry.failure.map { "\($0)" } ?? kind.action)")
        }
        line()
        line("--\(boundary)")
        line("Content-Type: message/delivery-status")
        line()
        line("Reporting-MTA: dns; \(reportingHost)")
        if let envelopeID = original.parameters.envelopeID { line("Original-Envelope-Id: \(envelopeID)") }
        line("Arrival-Date: \(RFC5322Date.format(secondsSince1970: Int(original.arrival.timeIntervalSince1970)))")
        for entry in entries {
            line()
            let type = entry.recipient.address.isASCII ? "rfc822" : "utf-8"
            line("Final-Recipient: \(type); \(entry.recipient.address)")
            if let original = entry.recipient.originalRecipient {
                line("Original-Recipient: \(original.addressType); \(original.address)")
            }
            line("Action: \(kind.action)")
            line("Status: \(Self.status(of: entry.failure, kind: kind))")
            if let remoteMTA = entry.remoteMTA { line("Remote-MTA: dns; \(remoteMTA)") }
            if let reply = entry.failure?.reply {
                // A header line must stay under 998 octets (RFC 5322 2.1.1); the summary is safe text.
                line("Diagnostic-Code: smtp; \(reply.summary(limit: 900))")
            } else if let detail = entry.failure?.detail, !detail.isEmpty {
                line("Diagnostic-Code: x-relaygate; \(SafeText.sanitized(detail, limit: 900))")
            }
            line("Last-Attempt-Date: \(date)")
            if kind == .delayed, let willRetryUntil {
                line("Will-Retry-Until: \(RFC5322Date.format(secondsSince1970: willRetryUntil))")
            }
        }
        line()
        line("--\(boundary)")
        let full = original.parameters.returnContent == .full
        line(full ? "Content-Type: message/rfc822" : "Content-Type: text/rfc822-headers")
        line()
        var bytes = Array(text.utf8)
        bytes += full ? originalContent : Self.headers(of: originalContent)
        if bytes.suffix(2) != [13, 10] { bytes += [13, 10] }
        bytes += Array("\r\n--\(boundary)--\r\n".utf8)
        return bytes
    }

    /// A recipient's last error as the envelope keeps it (text: "RCPT: 450 4.2.0 mailbox busy"), as a
    /// failure again: its stage, and the next hop's own status (4.4.7 when it gave none).
    static func lastFailure(_ recipient: Recipient) -> SMTPClientSession.Failure {
        let last = recipient.lastError ?? ""
        var stage = SMTPClientSession.Stage.queue
        var detail = Substring(last)
        if let colon = last.firstIndex(of: ":"), let named = SMTPClientSession.Stage(rawValue: String(last[..<colon])) {
            stage = named
            detail = last[last.index(after: colon)...].drop { $0 == " " }
        }
        return .init(
            stage: stage, reply: nil, detail: String(detail), isPermanent: false,
            status: remoteStatus(in: last) ?? EnhancedStatusCode(4, 4, 7))
    }

    /// The enhanced status code in a recorded error ("RCPT: 450 4.2.0 mailbox busy" → 4.2.0).
    static func remoteStatus(in text: String) -> EnhancedStatusCode? {
        for word in text.split(separator: " ").prefix(4) {
            if let code = EnhancedStatusCode(word), code.statusClass == 4 || code.statusClass == 5 { return code }
        }
        return nil
    }

    static func status(of failure: SMTPClientSession.Failure?, kind: Kind) -> String {
        if let code = failure?.reply?.enhancedCode { return code.description }
        if let code = failure?.status { return code.description }
        if let reply = failure?.reply { return "\(reply.code / 100).0.0" }
        switch kind {
        case .failed: return "5.0.0"
        case .delayed: return "4.0.0"
        case .delivered, .relayed: return "2.0.0"
        }
    }

    /// The header section: everything up to the first empty line.
    static func headers(of content: [UInt8]) -> [UInt8] {
        var index = 0
        while index + 1 < content.count {
            if content[index] == 13 && content[index + 1] == 10 {
                if index == 0 || (index >= 2 && content[index - 2] == 13 && content[index - 1] == 10) {
                    return Array(content[..<index])
                }
            }
            index += 1
        }
        return content
    }
}
