import Foundation
import MailModel
import Spool
import Testing

@Suite struct RecoveryTests {
    @Test func cleanSpoolRecoversToItself() throws {
        let spool = try TemporarySpool()
        try spool.commit("one")
        try spool.commit("two")
        var expected = Spool.RecoveryReport()
        expected.queued = 2
        #expect(try spool.spool.recover() == expected)
    }

    @Test func halfWrittenTemporaryFilesAreRemoved() throws {
        let spool = try TemporarySpool()
        let writer = spool.spool.makeWriter(for: .sample())
        try writer.write(Array("half".utf8))
        _ = FileManager.default.createFile(atPath: spool.directory + "/tmp/stray.env", contents: Data("x".utf8))
        let report = try spool.spool.recover()
        #expect(report.temporaryFilesRemoved == 2)
        #expect(spool.files(in: "tmp").isEmpty)
        withExtendedLifetime(writer) {}
    }

    @Test func activeEntriesGoBackToIncoming() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("held by a worker")
        try FileManager.default.moveItem(
            atPath: spool.spool.envelopePath(id, in: .incoming), toPath: spool.spool.envelopePath(id, in: .active))
        let report = try spool.spool.recover()
        #expect(report.requeued == 1)
        #expect(report.queued == 1)
        #expect(spool.files(in: "incoming") == [id.rawValue])
        #expect(spool.files(in: "active").isEmpty)
    }

    @Test func damagedEnvelopeIsQuarantinedWithItsBody() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("content")
        let path = spool.spool.envelopePath(id, in: .incoming)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        // Inside the envelope's JSON, which ends at its last "}" (a footer follows).
        bytes[try #require(bytes.lastIndex(of: UInt8(ascii: "}"))) - 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: path))
        let report = try spool.spool.recover()
        #expect(report.quarantined.map(\.name) == [id.rawValue])
        #expect(report.quarantined.first?.reason.contains("checksum") == true)
        #expect(spool.files(in: "quarantine") == [id.rawValue, id.rawValue + ".body", id.rawValue + ".reason"])
        #expect(spool.files(in: "incoming").isEmpty)
        #expect(spool.files(in: "queue").isEmpty)
        #expect(spool.spool.statistics.quarantined == 1)
        // The reason stays with it, for `queue list` and `queue show`.
        let entry = try #require(spool.spool.entries().first { $0.queue == .quarantine })
        #expect(entry.problem?.hasPrefix("quarantined: checksum mismatch") == true, "\(entry.problem ?? "")")
        // A second start leaves quarantine alone.
        #expect(try spool.spool.recover().quarantined.isEmpty)
        #expect(spool.files(in: "quarantine").count == 3)
    }

    @Test func envelopeWithoutBodyIsQuarantined() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("content")
        try FileManager.default.removeItem(atPath: spool.spool.bodyPath(id))
        let report = try spool.spool.recover()
        #expect(report.quarantined.first?.reason == "message body missing")
        #expect(report.queued == 0)
    }

    @Test func truncatedBodyIsQuarantined() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("content that will be cut")
        // A shorter file in the body's place (the envelope keeps its own name: it is not truncated with it).
        try Data("content".utf8).write(to: URL(fileURLWithPath: spool.spool.bodyPath(id)), options: .atomic)
        let report = try spool.spool.recover()
        #expect(report.quarantined.first?.reason.contains("envelope says") == true, "\(report.quarantined)")
    }

    @Test func orphanBodyIsRemoved() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("content")
        try FileManager.default.removeItem(atPath: spool.spool.envelopePath(id, in: .incoming))
        let report = try spool.spool.recover()
        #expect(report.orphanBodiesRemoved == 1)
        #expect(spool.files(in: "queue").isEmpty)
    }

    @Test func strayFileInIncomingIsQuarantined() throws {
        let spool = try TemporarySpool()
        _ = FileManager.default.createFile(atPath: spool.directory + "/incoming/notes.txt", contents: Data("hi".utf8))
        let report = try spool.spool.recover()
        #expect(report.quarantined.map(\.reason) == ["file name is not a queue ID"])
    }
}
