import Foundation
import IMAPProtocol
import Logging
import Mailbox
import NIOCore
import Testing
import TranscriptSupport

@testable import Server

/// The IMAP dialog fixtures (Tests/IMAPProtocolTests/Fixtures/dialogs) against the pure session, with the
/// real mailbox work behind it on a Maildir of its own: the same fixtures run against the server over
/// loopback in EndToEndTests.
@Suite struct IMAPDialogTests {
    @Test func everyFixtureAgainstThePureSession() throws {
        let dialogs = try IMAPDialog.all()
        #expect(dialogs.count >= 10)
        for dialog in dialogs {
            let root = FileManager.default.temporaryDirectory.path + "/relaygate-dialog-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: root) }
            if let failure = Self.play(dialog, root: root) { Issue.record("\(dialog.name): \(failure)") }
        }
    }

    /// Nil when the dialog went as written; otherwise what differed.
    static func play(_ dialog: IMAPDialog, root: String) -> String? {
        let work = IMAPMailboxWork(
            store: MailboxStore(root: root), mailbox: "alice", hostname: "mx.test", listings: FolderListingCache(),
            logger: Logger(label: "dialog"))
        var session = IMAPSession(
            configuration: IMAPSession.Configuration(hostname: "mx.test", tlsAvailable: true), implicitTLS: true)
        var output = ""
        var closed = false
        var upload: MaildirUpload?
        func drain() {
            while let action = session.next() {
                switch action {
                case .send(let text): output += text
                case .sendOctets(let octets): output += String(decoding: octets, as: UTF8.self)
                case .verifyCredentials(let credentials):
                    let right = credentials.username == "alice" && credentials.password == "secret"
                    session.authenticationFinished(right ? .accepted : .rejected)
                case .request(.appendStreamed(let name, let flags, let date)):
                    let written = try? upload?.finish()
                    upload = nil
                    session.requestFinished(
                        written.map { work.appendUploaded($0, to: name, flags: flags, date: date) }
                            ?? .done(refusal: "no upload"))
                case .request(let request): session.requestFinished(work.perform(request))
                case .appendBegin: upload = work.beginUpload()
                case .appendChunk(let chunk): _ = try? chunk.withUnsafeReadableBytes { try upload?.write($0) }
                case .appendAbort:
                    upload?.discard()
                    upload = nil
                case .startTLS: session.tlsEstablished()
                case .close: closed = true
                case .log: break
                }
            }
        }
        session.start()
        drain()
        var lines = output.components(separatedBy: "\r\n").dropLast()
        _ = lines.popFirst()  // the greeting
        output = ""
        for step in dialog.steps {
            switch step {
            case .send(let text):
                session.receive(ByteBuffer(string: text + "\r\n"))
                drain()
                lines += output.components(separatedBy: "\r\n").dropLast()
                output = ""
            case .expectClosed:
                guard closed, lines.isEmpty else {
                    return "expected the connection closed; lines left: \(Array(lines))"
                }
            case .expectPrefix, .expectLine:
                guard let line = lines.popFirst() else { return "expected \(step), got nothing" }
                guard IMAPDialog.matches(line, step) else { return "expected \(step), got \(line.prefix(300))" }
            }
        }
        return lines.isEmpty ? nil : "lines nobody expected: \(lines.map { String($0.prefix(200)) })"
    }
}
