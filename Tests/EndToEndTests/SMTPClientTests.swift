import Foundation
import MailModel
import Spool
import Testing

/// Python's smtplib against the running server: plain, STARTTLS, implicit TLS, AUTH, several recipients.
@Suite struct SMTPClientTests {
    @Test func plainSessionWithSeveralRecipientsIsQueuedExactly() async throws {
        try await withServer { server in
            let message = "From: alice@example.org\r\nSubject: several\r\n\r\nline one\r\n.leading dot\r\n"
            let result = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpPort)", "--to", "bob@example.net", "--to", "carol@example.net",
                    "--to", "dave@example.com", "--message", message,
                ])
            #expect(result["ok"] as? Bool == true, "\(result)")
            let spool = try Spool(directory: server.spool, create: false)
            let entry = try #require(spool.entries().first)
            let envelope = try #require(entry.envelope)
            #expect(envelope.sender.description == "<alice@example.org>")
            #expect(
                envelope.recipients.map(\.address.description) == [
                    "bob@example.net", "carol@example.net", "dave@example.com",
                ])
            #expect(envelope.recipients.allSatisfy { $0.status == .pending })
            #expect(envelope.client.tlsVersion == nil)
            let body = Data(try spool.content(of: envelope))
            #expect(String(decoding: contentWithoutOurReceivedHeader(body), as: UTF8.self) == message)
            #expect(
                String(decoding: body, as: UTF8.self).hasPrefix(
                    "Received: from peer.test ([127.0.0.1])\r\n\tby mx.test (Relaygate) with ESMTP id \(entry.queueID)")
            )
            #expect(server.logText.contains("queue_id=\(entry.queueID)"))
        }
    }

    @Test func startTLSThenAuthRelaysFromAnUntrustedNetwork() async throws {
        // Loopback is not trusted here, so only AUTH allows relaying.
        let config = "smtp:\n  relay_networks: [\"192.0.2.0/24\"]\n"
        try await withServer(config: config, users: ["alice": "s3cret pass"]) { server in
            let anonymous = try await Peer.run(
                "send", server: server, ["--port", "\(server.smtpPort)", "--starttls", "--to", "bob@example.net"])
            #expect(anonymous["ok"] as? Bool == false)
            #expect((anonymous["codes"] as? [String: Int])?["bob@example.net"] == 554)

            let authenticated = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpPort)", "--starttls", "--user", "alice", "--password", "s3cret pass",
                    "--to", "bob@example.net",
                ])
            #expect(authenticated["ok"] as? Bool == true, "\(authenticated)")
            #expect(authenticated["auth"] as? Int == 235)
            #expect(authenticated["tls_version"] as? String == "TLSv1.3")
            #expect((authenticated["extensions"] as? [String])?.contains("auth") == true)
            let envelope = try #require(try Spool(directory: server.spool, create: false).entries().first?.envelope)
            #expect(envelope.client.authenticatedUser == "alice")
            #expect(envelope.client.protocolName == "ESMTPSA")
            #expect(envelope.client.tlsVersion == "TLSv1.3")
            #expect(!server.logText.contains("s3cret"), "the password must never be logged")
        }
    }

    @Test func implicitTLSWithAuthLogin() async throws {
        try await withServer(users: ["bob": "hunter2"]) { server in
            let result = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpsPort)", "--implicit-tls", "--user", "bob", "--password", "hunter2",
                    "--mechanism", "LOGIN", "--to", "carol@example.net",
                ])
            #expect(result["ok"] as? Bool == true, "\(result)")
            #expect(result["auth"] as? Int == 235)
            #expect((result["extensions"] as? [String])?.contains("starttls") == false, "no STARTTLS inside TLS")
        }
    }

    /// Failures slow the client down but never lock it out (Dovecot's auth penalty): after them, the right
    /// password still works.
    @Test func wrongPasswordIsRefusedAndTheRightOneStillWorksAfterFailures() async throws {
        let config = "auth:\n  max_failures: 2\n  failure_delay: 10ms\n  max_delay: 200ms\n"
        try await withServer(config: config, users: ["alice": "right"]) { server in
            // smtplib tries PLAIN, then LOGIN: two failures.
            let wrong = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpsPort)", "--implicit-tls", "--user", "alice", "--password", "wrong",
                    "--to", "bob@example.net",
                ])
            #expect(wrong["error"] as? String == "authentication")
            #expect(wrong["code"] as? Int == 535)
            let right = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpsPort)", "--implicit-tls", "--user", "alice", "--password", "right",
                    "--to", "bob@example.net",
                ])
            #expect(right["ok"] as? Bool == true, "a client that failed is slowed down, never locked out: \(right)")
            #expect(server.logText.contains("result=rejected"))
            #expect(server.logText.contains("authenticated"))
            #expect(!server.logText.contains("password=wrong") && !server.logText.contains("\"wrong\""))
        }
    }

    @Test func authIsNotOfferedWithoutTLS() async throws {
        try await withServer(users: ["alice": "secret"]) { server in
            let result = try await Peer.run(
                "send", server: server,
                ["--port", "\(server.smtpPort)", "--user", "alice", "--password", "secret", "--to", "bob@example.net"])
            #expect(result["ok"] as? Bool == false)
            #expect(result["error"] as? String == "not supported")
        }
    }

    @Test func startTLSDiscardsPipelinedPlaintext() async throws {
        try await withServer { server in
            let result = try await Peer.run("starttls-injection", server: server, ["--port", "\(server.smtpPort)"])
            #expect((result["starttls"] as? [String])?.first?.hasPrefix("220 2.0.0") == true)
            let first = try #require(result["first_after_tls"] as? [String])
            #expect(first.first?.hasPrefix("250-mx.test greets") == true, "the injected RSET was answered: \(first)")
            #expect((result["second_after_tls"] as? [String])?.first?.hasPrefix("250 2.0.0") == true)
        }
    }

    @Test func smtputf8AndDSNParametersReachTheEnvelope() async throws {
        try await withServer { server in
            let result = try await Peer.run(
                "send", server: server,
                [
                    "--port", "\(server.smtpPort)", "--from", "jösé@exämple.org", "--to", "bjørn@example.net",
                    "--mail-option", "SMTPUTF8", "--mail-option", "BODY=8BITMIME", "--mail-option", "RET=HDRS",
                    "--mail-option", "ENVID=abc+2B1", "--message", "Subject: grüße\r\n\r\nhé\r\n",
                ])
            #expect(result["ok"] as? Bool == true, "\(result)")
            let envelope = try #require(try Spool(directory: server.spool, create: false).entries().first?.envelope)
            #expect(envelope.parameters.smtpUTF8)
            #expect(envelope.parameters.body == .eightBitMIME)
            #expect(envelope.parameters.returnContent == .headers)
            #expect(envelope.parameters.envelopeID == "abc+1")
            #expect(envelope.has8BitContent)
            #expect(envelope.sender.description == "<jösé@exämple.org>")
        }
    }
}
