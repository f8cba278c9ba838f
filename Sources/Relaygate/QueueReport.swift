import Foundation
import MailModel
import Spool

/// The text of `relaygate queue list` and `relaygate queue show ID`.
public enum QueueReport {
    public static func list(_ entries: [Spool.Entry], now: Date = Date()) -> String {
        guard !entries.isEmpty else { return "The queue is empty.\n" }
        var rows = [["QUEUE ID", "STATE", "AGE", "SIZE", "SENDER", "RECIPIENTS"]]
        var pending = 0
        for entry in entries {
            guard let envelope = entry.envelope else {
                rows.append([
                    entry.queueID.rawValue, entry.queue.rawValue, "?", "?", "(unreadable)", entry.problem ?? "",
                ])
                continue
            }
            let recipients = envelope.recipients.map { "\($0.address) (\($0.status.rawValue))" }
            var shown =
                recipients.prefix(2).joined(separator: ", ")
                + (recipients.count > 2 ? ", +\(recipients.count - 2) more" : "")
            if entry.queue == .quarantine {
                shown = entry.problem ?? "quarantined"
            } else {
                pending += envelope.recipients.count { $0.status == .pending }
            }
            rows.append([
                entry.queueID.rawValue, entry.queue.rawValue, age(now.timeIntervalSince(envelope.arrival)),
                size(envelope.size), envelope.sender.description, shown,
            ])
        }
        let widths = (0..<rows[0].count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for row in rows {
            for (column, cell) in row.enumerated() {
                text +=
                    column < widths.count
                    ? cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) : cell
            }
            text += "\n"
        }
        let count = entries.count
        text += "\(count) message\(count == 1 ? "" : "s"), \(pending) recipient\(pending == 1 ? "" : "s") pending"
        let quarantined = entries.count { $0.queue == .quarantine }
        if quarantined > 0 {
            text += "; \(quarantined) in quarantine (not delivered: see each reason, and the files in quarantine/)"
        }
        return text + "\n"
    }

    public static func show(_ entry: Spool.Entry, bodyPath: String, now: Date = Date()) -> String {
        var text = "queue_id: \(entry.queueID)\nstate: \(entry.queue.rawValue)\n"
        guard let envelope = entry.envelope else {
            return text + "problem: \(entry.problem ?? "unreadable")\n"
        }
        if let problem = entry.problem { text += "problem: \(problem)\n" }
        let parameters = envelope.parameters
        text += """
            arrival: \(ISO8601DateFormatter().string(from: envelope.arrival)) (\(age(now.timeIntervalSince(envelope.arrival))) ago)
            size: \(envelope.size) octets\(envelope.has8BitContent ? " (8-bit content)" : "")
            sender: \(envelope.sender)
            client: \(envelope.client.address) helo=\(envelope.client.helo) protocol=\(envelope.client.protocolName)
            """
        text += "\n"
        if let tls = envelope.client.tlsVersion { text += "tls: \(tls)\n" }
        if envelope.attempts > 0 {
            text += "attempts: \(envelope.attempts)\n"
        }
        if let next = envelope.nextAttempt, entry.queue == .deferred {
            let wait = next.timeIntervalSince(now)
            text += "next attempt: \(ISO8601DateFormatter().string(from: next)) (\(wait > 0 ? "in " + age(wait) : "due"))\n"
        }
        if let user = envelope.client.authenticatedUser { text += "authenticated: \(user)\n" }
        var flags: [String] = []
        if let body = parameters.body { flags.append("BODY=\(body.rawValue)") }
        if parameters.smtpUTF8 { flags.append("SMTPUTF8") }
        if let ret = parameters.returnContent { flags.append("RET=\(ret.rawValue)") }
        if let envid = parameters.envelopeID { flags.append("ENVID=\(envid)") }
        if let size = parameters.declaredSize { flags.append("SIZE=\(size)") }
        if !flags.isEmpty { text += "parameters: \(flags.joined(separator: " "))\n" }
        text += "recipients:\n"
        for recipient in envelope.recipients {
            var line = "  \(recipient.address) \(recipient.status.rawValue)"
            if let notify = recipient.notify { line += " NOTIFY=\(notify)" }
            if let original = recipient.originalRecipient { line += " ORCPT=\(original)" }
            line += " route=\(recipient.route.map { "\($0)" } ?? "mx")"
            if let rule = recipient.rule { line += " rule=\(rule)" }
            if let sender = recipient.sender { line += " sender=\(sender)" }
            text += line + "\n"
            if let error = recipient.lastError { text += "    last error: \(error)\n" }
        }
        // The body file holds the envelope after the content (docs/delivery.md "The spool").
        text += "body: \(bodyPath) (the first \(envelope.size) octets)\n"
        return text
    }

    static func age(_ seconds: TimeInterval) -> String {
        let seconds = max(0, Int(seconds))
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }

    static func size(_ octets: Int) -> String {
        if octets < 10 * 1024 { return "\(octets)" }
        if octets < 10 * 1024 * 1024 { return "\(octets / 1024)K" }
        return "\(octets / (1024 * 1024))M"
    }
}
