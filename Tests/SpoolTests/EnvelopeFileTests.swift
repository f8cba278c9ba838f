import FileSupport
import Foundation
import MailModel
import Testing

@testable import Spool

/// One file per message at intake, the envelope after the content (`EnvelopeFile`).
@Suite struct EnvelopeFileTests {
    func inode(_ path: String) -> (inode: UInt, links: UInt)? {
        var status = stat()
        return stat(path, &status) == 0 ? (UInt(status.st_ino), UInt(status.st_nlink)) : nil
    }

    @Test func aCommitIsOneFileWithTwoNames() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("Subject: one\r\n\r\nfile\r\n")
        let body = try #require(inode(spool.spool.bodyPath(id)))
        let envelope = try #require(inode(spool.spool.envelopePath(id, in: .incoming)))
        #expect(body.inode == envelope.inode)
        #expect(body.links == 2)
        #expect(EnvelopeFile.contentLength(at: spool.spool.bodyPath(id)) == "Subject: one\r\n\r\nfile\r\n".utf8.count)
    }

    @Test func recordingAnOutcomeGivesTheEnvelopeItsOwnFileAndLeavesTheContent() throws {
        let spool = try TemporarySpool()
        let content = "Subject: kept\r\n\r\nas it was\r\n"
        let id = try spool.commit(content)
        var envelope = try #require(try spool.spool.claim(id, from: .incoming))
        envelope.attempts = 3
        try spool.spool.record(envelope)
        #expect(inode(spool.spool.envelopePath(id, in: .active))?.inode != inode(spool.spool.bodyPath(id))?.inode)
        #expect(inode(spool.spool.bodyPath(id))?.links == 1)
        try spool.spool.postpone(id)
        let stored = try #require(spool.spool.peek(id, in: .deferred))
        #expect(stored.attempts == 3)
        #expect(String(decoding: try spool.spool.content(of: stored), as: UTF8.self) == content)
        #expect(try spool.spool.recover().quarantined.isEmpty)
    }

    @Test func contentThatEndsLikeAFooterIsOnlyContent() throws {
        let spool = try TemporarySpool()
        // A client's message that imitates our footer, pointing at its own start.
        let content =
            "Subject: tricky\r\n\r\nrelaygate-envelope 1 sha256=00\n{}\nrelaygate-envelope-at=0000000000000000\n"
        let id = try spool.commit(content)
        let entry = try #require(spool.spool.entry(id))
        let envelope = try #require(entry.envelope, "\(entry.problem ?? "")")
        #expect(envelope.queueID == id)
        #expect(String(decoding: try spool.spool.content(of: envelope), as: UTF8.self) == content)
        #expect(try spool.spool.recover().queued == 1)
    }

    @Test func aSpoolWrittenBeforeFootersIsStillRead() throws {
        // Then a message was two files: the body alone, and the envelope record alone without a footer.
        let spool = try TemporarySpool()
        let id = QueueID.sample()
        var envelope = Envelope.sample(id)
        envelope.size = 5
        try Data("body\n".utf8).write(to: URL(fileURLWithPath: spool.spool.bodyPath(id)))
        try Data(try EnvelopeCodec.encode(envelope)).write(
            to: URL(fileURLWithPath: spool.spool.envelopePath(id, in: .incoming)))
        let report = try spool.spool.recover()
        #expect(report.quarantined.isEmpty)
        #expect(report.queued == 1)
        let claimed = try #require(try spool.spool.claim(id, from: .incoming))
        #expect(claimed == envelope)
        #expect(try spool.spool.content(of: claimed) == Array("body\n".utf8))
    }

    @Test func aFileWithADamagedFooterIsQuarantined() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("content\r\n")
        let path = spool.spool.bodyPath(id)
        // The last octet, the footer's newline, gone: the file is then read whole as a record, and fails.
        let fd = open(path, O_WRONLY)
        #expect(ftruncate(fd, off_t(try #require(FileSystem.size(path)) - 1)) == 0)
        close(fd)
        let report = try spool.spool.recover()
        #expect(report.quarantined.map(\.name) == [id.rawValue])
        #expect(report.queued == 0)
    }
}
