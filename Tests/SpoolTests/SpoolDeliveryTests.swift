import Crypto
import Foundation
import MailModel
import Spool
import Testing

@Suite struct SpoolDeliveryTests {
    @Test func claimRecordPostponeClaimFinish() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("Subject: x\r\n\r\nbody\r\n")
        var envelope = try #require(try spool.spool.claim(id, from: .incoming))
        #expect(spool.files(in: "incoming").isEmpty && spool.files(in: "active") == [id.rawValue])
        #expect(try spool.spool.claim(id, from: .incoming) == nil, "a second claim finds nothing")

        envelope.recipients[0].status = .delivered
        envelope.recipients[1].lastError = "RCPT: 450 4.2.0 busy"
        envelope.attempts = 1
        envelope.nextAttempt = Date(timeIntervalSince1970: 2_000_000_000)
        try spool.spool.record(envelope)
        try spool.spool.postpone(id)
        #expect(spool.files(in: "deferred") == [id.rawValue])
        #expect(spool.files(in: "tmp").isEmpty)

        let again = try #require(try spool.spool.claim(id, from: .deferred))
        #expect(again == envelope, "the recorded state is what the next attempt sees")
        try spool.spool.finish([id])
        for directory in ["incoming", "active", "deferred", "queue"] {
            #expect(spool.files(in: directory).isEmpty, "\(directory) is empty")
        }
        #expect(spool.files(in: "tmp").allSatisfy { $0.hasPrefix("recycled.") }, "only files kept for reuse")
        #expect(try spool.spool.recover().temporaryFilesRemoved == 0, "files kept for reuse are not half-written")
        #expect(spool.files(in: "tmp").isEmpty, "recovery empties tmp/")
    }

    /// A claim that finds an unreadable envelope quarantines it and says so, with the reason: never silently.
    @Test func aClaimOfAnUnreadableEnvelopeReportsTheQuarantine() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("Subject: x\r\n\r\nbody\r\n")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: spool.spool.envelopePath(id, in: .incoming)))
        #expect {
            _ = try spool.spool.claim(id, from: .incoming)
        } throws: { error in
            guard let quarantined = error as? Spool.Quarantined else { return false }
            return quarantined.queueID == id && quarantined.reason.contains("not a relaygate envelope")
        }
        #expect(spool.files(in: "quarantine").contains(id.rawValue + ".reason"))
        #expect(spool.spool.statistics.quarantined == 1)
        #expect(spool.spool.quarantineReason(id)?.contains("not a relaygate envelope") == true)
    }

    /// A retry finds a body cut short after intake (a disk fault, a careless hand) when it claims the message,
    /// not after DATA: it goes to quarantine alone instead of failing its connection on every retry.
    @Test func aClaimOfAMessageWhoseBodyWasCutShortQuarantinesIt() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("content that will be cut")
        let stored = try #require(try spool.spool.claim(id, from: .incoming))
        try spool.spool.record(stored)  // the envelope now has a file of its own, as after a first attempt
        try spool.spool.postpone(id)
        try Data("content".utf8).write(to: URL(fileURLWithPath: spool.spool.bodyPath(id)), options: .atomic)
        #expect {
            _ = try spool.spool.claim(id, from: .deferred)
        } throws: { error in
            (error as? Spool.Quarantined)?.reason == "message body is 7 octets, envelope says 24"
        }
        #expect(spool.files(in: "quarantine").contains(id.rawValue + ".body"))
    }

    @Test func aClaimWithTheStoredEnvelopeDoesNotReadItBack() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("Subject: x\r\n\r\nbody\r\n")
        let stored = try #require(spool.spool.peek(id, in: .incoming))
        // Were the file read, this would be quarantined.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: spool.spool.envelopePath(id, in: .incoming)))
        #expect(try spool.spool.claim(id, from: .incoming, known: stored) == stored)
        #expect(spool.files(in: "active") == [id.rawValue])
        #expect(try spool.spool.claim(id, from: .incoming, known: stored) == nil, "gone: nothing to claim")
    }

    @Test func anActiveEnvelopeGoesBackToIncomingOnRecovery() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("Subject: x\r\n\r\nbody\r\n")
        _ = try spool.spool.claim(id, from: .incoming)
        let report = try spool.spool.recover()
        #expect(report.requeued == 1)
        #expect(spool.files(in: "incoming") == [id.rawValue])
    }

    @Test func envelopesWrittenBeforeDeliveryStateStillDecode() throws {
        // An envelope as intake wrote it before attempts, next_attempt, delay_warned and last_error existed.
        let json = Array(
            """
            {"8bit":false,"arrival":1764200000,"client":{"address":"127.0.0.1","helo":"c","protocol":"ESMTP"},\
            "parameters":{"smtputf8":false},"queue_id":"1K16561WFT637P12","received_by":"mx.test",\
            "recipients":[{"address":"b@example.net","status":"pending"}],"sender":"a@example.org","size":10}
            """.utf8)
        let digest = SHA256.hash(data: json).map { String(format: "%02x", $0) }.joined()
        let envelope = try EnvelopeCodec.decode(Array("relaygate-envelope 1 sha256=\(digest)\n".utf8) + json)
        #expect(envelope.attempts == 0 && envelope.nextAttempt == nil && !envelope.delayWarned)
        #expect(envelope.recipients[0].lastError == nil && envelope.recipients[0].route == nil)
    }
}
