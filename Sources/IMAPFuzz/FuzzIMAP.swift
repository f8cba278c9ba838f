import IMAPProtocol
import NIOCore

/// One fuzz input: its first octet chooses how the rest arrives (whole, or cut into pieces of that many
/// octets), and the rest is what a client sends. It goes through the framer and the parser as the session
/// uses them, then through a whole session that has not logged in, and then one that has. Nothing may
/// crash, trap or grow without bound; every command must get an answer or the connection must close.
enum FuzzIMAP {
    static func run(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let piece = Int(first % 16) + 1
        let bytes = Array(input.dropFirst())

        var framer = IMAPCommandFramer(maxLineLength: 4096, maxLiteralSize: 4096, maxCommandSize: 16384)
        var buffer = ByteBuffer()
        for start in stride(from: 0, to: bytes.count, by: piece) {
            buffer.writeBytes(bytes[start..<min(start + piece, bytes.count)])
            while let event = framer.next(from: &buffer) {
                if case .command(let segments) = event { _ = IMAPParser.parse(segments) }
            }
        }

        for loggedIn in [false, true] {
            var session = IMAPSession(
                configuration: IMAPSession.Configuration(hostname: "fuzz.test", tlsAvailable: true), implicitTLS: true)
            session.start()
            if loggedIn {
                session.receive(ByteBuffer(string: "0 LOGIN a b\r\n"))
                drain(&session)
                session.authenticationFinished(.accepted)
            }
            drain(&session)
            for start in stride(from: 0, to: bytes.count, by: piece) {
                session.receive(ByteBuffer(bytes: bytes[start..<min(start + piece, bytes.count)]))
                drain(&session)
            }
        }
    }

    /// Carries out the session's actions as a driver whose mailbox is empty and whose checks all pass.
    static func drain(_ session: inout IMAPSession) {
        var guardCount = 0
        while let action = session.next() {
            guardCount += 1
            precondition(guardCount < 1_000_000, "a session that never stops asking")
            switch action {
            case .verifyCredentials: session.authenticationFinished(.rejected)
            case .startTLS: session.tlsEstablished()
            case .request(let request):
                switch request {
                case .select:
                    session.requestFinished(.selected(FolderView(uidValidity: 1, uidNext: 1, messages: [])))
                case .status:
                    session.requestFinished(.status(FolderView(uidValidity: 1, uidNext: 1, messages: [])))
                case .list(let pattern, let subscribedOnly):
                    session.requestFinished(
                        .listed(
                            ListEntry.matching(
                                pattern, names: ["INBOX", "Archive.2024"], subscribed: ["Archive.2024"],
                                subscribedOnly: subscribedOnly)))
                case .refresh: session.requestFinished(.refreshed(FolderView(uidValidity: 1, uidNext: 1, messages: [])))
                case .fetch: session.requestFinished(.fetched([]))
                case .search: session.requestFinished(.searched(matching: [], octetsRead: 0))
                default: session.requestFinished(.done(refusal: nil))
                }
            default: break
            }
        }
    }
}
