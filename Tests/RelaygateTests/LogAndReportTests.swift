import Foundation
import Logging
import MailModel
import Spool
import Testing

@testable import Relaygate

@Suite struct KeyValueLogHandlerTests {
    func capture(_ body: (Logger) -> Void) throws -> String {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        let output = LogOutput(descriptor: descriptors[1])
        var logger = Logger(label: "smtp") { KeyValueLogHandler(label: $0, level: .info, output: output) }
        logger[metadataKey: "client"] = "192.0.2.1:4000"
        body(logger)
        close(descriptors[1])
        let data = FileHandle(fileDescriptor: descriptors[0], closeOnDealloc: true).readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func oneGreppableLinePerEventWithQueueIDFirst() throws {
        let text = try capture { logger in
            logger.info("queued", metadata: ["size": "10", "queue_id": "0N4Y2K7H3QWBC5DE", "from": "<a@b.example>"])
            logger.debug("not shown")
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(
            lines[0].hasSuffix(
                " info smtp: queued queue_id=0N4Y2K7H3QWBC5DE client=192.0.2.1:4000 from=<a@b.example> size=10"))
    }

    @Test func timestampsAreUTCWithMilliseconds() {
        #expect(KeyValueLogHandler.timestamp(seconds: 0, milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(KeyValueLogHandler.timestamp(seconds: 1_795_790_000, milliseconds: 7) == "2026-11-27T14:33:20.007Z")
        // The last second of a leap day.
        #expect(KeyValueLogHandler.timestamp(seconds: 951_868_799, milliseconds: 999) == "2000-02-29T23:59:59.999Z")
        #expect(KeyValueLogHandler.timestamp().count == 24)
    }

    @Test func hostileValuesStayOnOneLine() throws {
        let text = try capture { logger in
            logger.info("refused", metadata: ["helo": "evil\r\nfake line=1 \"q\""])
        }
        #expect(text.split(separator: "\n").count == 1)
        #expect(text.contains(#"helo="evil\r\nfake line=1 \"q\"""#))
    }

    /// Every control character is two hex digits: `\x0` followed by a digit would read as another octet.
    @Test func controlCharactersAreEscapedWithTwoHexDigits() {
        #expect(KeyValueLogHandler.escapeControls("a\u{0}1") == #"a\x001"#)
        #expect(KeyValueLogHandler.escapeControls("\u{1B}[2J\u{7F}") == #"\x1b[2J\x7f"#)
        #expect(KeyValueLogHandler.quoteIfNeeded("x\u{0}") == #""x\x00""#)
    }
}

@Suite struct QueueReportTests {
    @Test func listsAndShowsEntries() throws {
        let id = QueueID("0N4Y2K7H3QWBC5DE")!
        let envelope = Envelope(
            queueID: id, sender: .mailbox(try EmailAddress(parsing: "a@example.org")),
            recipients: (1...3).map { Recipient(address: try! EmailAddress(parsing: "r\($0)@example.net")) },
            parameters: MailParameters(body: .eightBitMIME, returnContent: .headers),
            arrival: Date(timeIntervalSince1970: 1000), size: 20_000, has8BitContent: true,
            client: ClientFacts(
                address: "192.0.2.1", port: 1, helo: "c", protocolName: "ESMTPSA", tlsVersion: "TLSv1.3",
                authenticatedUser: "alice"),
            receivedBy: "mx.test")
        let entry = Spool.Entry(queueID: id, queue: .incoming, envelope: envelope, problem: nil)
        let list = QueueReport.list([entry], now: Date(timeIntervalSince1970: 1000 + 3 * 3600))
        #expect(
            list.contains(
                "0N4Y2K7H3QWBC5DE  incoming  3h   19K   <a@example.org>  r1@example.net (pending), r2@example.net (pending), +1 more"
            ))
        #expect(list.hasSuffix("1 message, 3 recipients pending\n"))
        let show = QueueReport.show(
            entry, bodyPath: "spool/queue/0N4Y2K7H3QWBC5DE", now: Date(timeIntervalSince1970: 1060))
        #expect(show.contains("authenticated: alice"))
        #expect(show.contains("parameters: BODY=8BITMIME RET=HDRS"))
        #expect(show.contains("  r3@example.net pending"))
        #expect(QueueReport.list([]) == "The queue is empty.\n")
    }
}
