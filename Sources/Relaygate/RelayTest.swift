import Delivery
import Foundation
import Logging
import MailModel
import NIOCore
import NIOPosix
import SMTPProtocol
import Spool

/// `relaygate relay-test UPSTREAM [--to ADDRESS]`: connects to an upstream as delivery would, walks EHLO,
/// TLS and AUTH, optionally sends a short test message, and prints the dialog (AUTH data redacted) and
/// the stage that failed, if one did. The first thing to run when mail must leave through a provider.
public enum RelayTest {
    public static func run(
        _ settings: Settings, upstream name: String, to recipient: String?, from sender: String?,
        print: @escaping @Sendable (String) -> Void
    ) async throws -> Bool {
        let configuration = settings.configuration
        let upstreams = try DeliverySetup.upstreams(configuration)
        guard upstreams.contains(where: { $0.name == name }) else {
            let known = upstreams.map(\.name).sorted()
            throw StartupError(
                "no upstream named \(name) in relaygate.yaml"
                    + (known.isEmpty
                        ? " (none are defined under upstreams:)" : " (defined: \(known.joined(separator: ", ")))"))
        }
        var message: SMTPClientSession.Message?
        let bodyPath = FileManager.default.temporaryDirectory.appendingPathComponent("relaygate-relay-test-\(UUID())")
            .path
        defer { try? FileManager.default.removeItem(atPath: bodyPath) }
        if let recipient {
            let to = try EmailAddress(parsing: recipient)
            let from =
                try sender.map { try EmailAddress(parsing: $0) }
                ?? EmailAddress(localPart: "postmaster", domain: Domain(configuration.hostname))
            let content = """
                From: <\(from)>\r
                To: <\(to)>\r
                Subject: Relaygate relay test through \(name)\r
                Date: \(RFC5322Date.format(secondsSince1970: Int(Date().timeIntervalSince1970)))\r
                Message-ID: <relay-test.\(UUID().uuidString)@\(configuration.hostname)>\r
                \r
                This message was sent by `relaygate relay-test \(name)` from \(configuration.hostname).\r

                """
            try Data(content.utf8).write(to: URL(fileURLWithPath: bodyPath))
            message = SMTPClientSession.Message(
                sender: .mailbox(from), recipients: [Recipient(address: to)], parameters: MailParameters(),
                size: content.utf8.count, has8BitContent: false)
        }
        // Built last, so an error above leaves nothing running.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        var logger = Logger(label: "relay-test")
        logger.logLevel = .critical
        let transport = try SMTPTransport(
            group: group, threadPool: threadPool, heloName: configuration.hostname,
            upstreams: upstreams, resolver: SystemMXResolver(threadPool: threadPool), logger: logger)

        let result = await transport.probe(
            upstream: name, message: message, content: MessageContent(file: bodyPath, length: message?.size ?? 0),
            transcript: print)
        try? await threadPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        switch result {
        case .failure(let failure):
            print("FAILED at \(failure.stage.rawValue): \(failure)")
            return false
        case .success(let facts):
            if let recipient {
                print("OK: \(name) accepted the test message for \(recipient)")
            } else {
                // Only what happened: TLS that an opportunistic upstream did not offer, or AUTH without a
                // username, is not claimed.
                let steps =
                    ["EHLO"] + (facts.tlsVersion != nil ? ["TLS"] : [])
                    + (upstreams.first { $0.name == name }?.username != nil ? ["AUTH"] : [])
                let list =
                    steps.count == 1 ? steps[0] : steps.dropLast().joined(separator: ", ") + " and " + steps.last!
                print("OK: \(name) took \(list)")
            }
            return true
        }
    }
}
