import Foundation
import MailModel
import Spool
import Testing

@Suite struct SpoolTests {
    @Test func commitMakesBodyAndEnvelopeVisible() throws {
        let spool = try TemporarySpool()
        let id = try spool.commit("Subject: x\r\n\r\nbody\r\n")
        #expect(spool.files(in: "queue") == [id.rawValue])
        #expect(spool.files(in: "incoming") == [id.rawValue])
        #expect(spool.files(in: "tmp").isEmpty)
        let entry = try #require(spool.spool.entry(id))
        let body = String(decoding: try spool.spool.content(of: try #require(entry.envelope)), as: UTF8.self)
        #expect(body == "Subject: x\r\n\r\nbody\r\n")
        #expect(entry.queue == .incoming)
        #expect(entry.envelope?.size == body.utf8.count)
        #expect(entry.envelope?.recipients.count == 2)
    }

    @Test func writesInManyPiecesMakeOneBody() throws {
        let spool = try TemporarySpool()
        let id = QueueID.sample()
        let writer = spool.spool.makeWriter(for: id)
        var envelope = Envelope.sample(id)
        for index in 0..<100 {
            let line = Array("line \(index)\r\n".utf8)
            try writer.write(line)
            envelope.size += line.count
        }
        try writer.commit(envelope)
        let body = String(decoding: try spool.spool.content(of: envelope), as: UTF8.self)
        #expect(body.hasPrefix("line 0\r\nline 1\r\n"))
        #expect(body.hasSuffix("line 99\r\n"))
    }

    @Test func discardLeavesNothing() throws {
        let spool = try TemporarySpool()
        let writer = spool.spool.makeWriter(for: .sample())
        try writer.write(Array("partial".utf8))
        #expect(spool.files(in: "tmp").count == 1)
        writer.discard()
        #expect(spool.files(in: "tmp").isEmpty)
        #expect(spool.files(in: "queue").isEmpty)
    }

    @Test func anEnvelopeWhoseSizeIsNotWhatWasWrittenIsRefusedAndLeavesNothing() throws {
        let spool = try TemporarySpool()
        let id = QueueID.sample()
        let writer = spool.spool.makeWriter(for: id)
        try writer.write(Array("Subject: x\r\n\r\nbody\r\n".utf8))
        var envelope = Envelope.sample(id)
        envelope.size = 5
        #expect(throws: SizeMismatch.self) { try writer.commit(envelope) }
        for directory in ["tmp", "queue", "incoming"] { #expect(spool.files(in: directory).isEmpty, "\(directory)") }
    }

    @Test func abandonedWriterLeavesNothing() throws {
        let spool = try TemporarySpool()
        do {
            let writer = spool.spool.makeWriter(for: .sample())
            try writer.write(Array("partial".utf8))
        }
        #expect(spool.files(in: "tmp").isEmpty)
    }

    @Test func concurrentCommitsAreAllDurable() async throws {
        let spool = try TemporarySpool()
        let ids = try await withThrowingTaskGroup(of: QueueID.self) { group in
            for index in 0..<64 {
                group.addTask { try spool.commit("message \(index)\r\n") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(ids).count == 64)
        #expect(spool.files(in: "incoming").count == 64)
        #expect(spool.spool.entries().count == 64)
    }

    @Test func refusesWhenDiskIsLow() throws {
        let spool = try TemporarySpool(minimumFreeSpace: Int.max / 2)
        #expect(!spool.spool.hasRoom(forDeclaredSize: nil))
        let roomy = try TemporarySpool(minimumFreeSpace: 0)
        #expect(roomy.spool.hasRoom(forDeclaredSize: 1000))
        #expect(!roomy.spool.hasRoom(forDeclaredSize: Int.max / 2))
    }

    @Test func entriesListOldestFirst() throws {
        let spool = try TemporarySpool()
        var generator = SystemRandomNumberGenerator()
        let later = QueueID.make(microsecondsSince1970: 2_000_000_000_000_000, using: &generator)
        let earlier = QueueID.make(microsecondsSince1970: 1_000_000_000_000_000, using: &generator)
        try spool.commit("b", id: later)
        try spool.commit("a", id: earlier)
        #expect(spool.spool.entries().map(\.queueID) == [earlier, later])
    }
}
