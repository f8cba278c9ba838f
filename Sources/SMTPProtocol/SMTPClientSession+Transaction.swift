import MailModel

/// Transactions: MAIL, RCPT, DATA and the content, for each message given to `send`, one after another on
/// the connection (RFC 5321 3.3), grouped into one write when the server offers PIPELINING (RFC 2920).
extension SMTPClientSession {
    mutating func nextMessageOrQuit() {
        if !queue.isEmpty {
            if needsReset {
                sendLine("RSET")
                state = .rset
            } else {
                startTransaction()
            }
        } else if finishing {
            quit()
        }
    }

    mutating func quit() {
        sendLine("QUIT")
        state = .quit
    }

    mutating func startTransaction() {
        let message = queue.removeFirst()
        current = message
        results = Array(repeating: nil, count: message.recipients.count)
        mailAccepted = false
        needsReset = true
        if message.needsSMTPUTF8 && extensions["SMTPUTF8"] == nil {
            return refuseMessage(
                Failure(
                    stage: .mail, reply: nil, detail: "the next hop does not support SMTPUTF8, which this message needs",
                    isPermanent: true))
        }
        if message.has8BitContent && extensions["8BITMIME"] == nil {
            return refuseMessage(
                Failure(
                    stage: .mail, reply: nil,
                    detail: "the next hop does not support 8BITMIME, and the content is 8-bit", isPermanent: true))
        }
        var mail = "MAIL FROM:\(message.sender)"
        if extensions["SIZE"] != nil { mail += " SIZE=\(message.size)" }
        if message.has8BitContent { mail += " BODY=8BITMIME" }
        if message.needsSMTPUTF8 { mail += " SMTPUTF8" }
        let dsn = extensions["DSN"] != nil
        if dsn, let ret = message.parameters.returnContent { mail += " RET=\(ret.rawValue)" }
        if dsn, let envelopeID = message.parameters.envelopeID { mail += " ENVID=\(XText.encode(envelopeID.utf8))" }
        var lines = [mail]
        for recipient in message.recipients {
            var rcpt = "RCPT TO:<\(recipient.address)>"
            if dsn, let notify = recipient.notify { rcpt += " NOTIFY=\(notify)" }
            if dsn, let original = recipient.originalRecipient { rcpt += " ORCPT=\(original)" }
            lines.append(rcpt)
        }
        lines.append("DATA")
        state = .transaction
        expected = [.mail] + message.recipients.indices.map { .rcpt($0) } + [.data]
        pipelining = extensions["PIPELINING"] != nil
        if pipelining {
            emit(.send(lines.map { $0 + "\r\n" }.joined()))
        } else {
            unsent = Array(lines.dropFirst())
            sendLine(lines[0])
        }
    }

    mutating func transactionReplied(_ reply: SMTPReply) {
        guard let what = expected.first, current != nil else { return }
        expected.removeFirst()
        switch what {
        case .mail:
            mailAccepted = reply.code == 250
            if !mailAccepted {
                let failure = Failure.reply(.mail, reply)
                for index in results.indices { results[index] = .failed(failure) }
            }
        case .rcpt(let index):
            if mailAccepted && !(200...299).contains(reply.code) { results[index] = .failed(.reply(.rcpt, reply)) }
        case .data:
            let anyAccepted = mailAccepted && results.contains { $0 == nil }
            if reply.code == 354 && anyAccepted {
                state = .content
                emit(.sendContent)
                return
            }
            if reply.code == 354 {
                // Accepted DATA with nobody to deliver to (RFC 2920 3.1): end the empty message at once.
                emit(.send(".\r\n"))
                expected = []
                state = .content
                return
            }
            let failure = Failure.reply(.data, reply)
            for index in results.indices where results[index] == nil { results[index] = .failed(failure) }
            return finishMessage()
        }
        if !pipelining, !unsent.isEmpty {
            // Without pipelining: the next command only after this reply; none after a refused MAIL, and no
            // DATA when every RCPT was refused.
            if mailAccepted && (unsent.first != "DATA" || results.contains { $0 == nil }) {
                sendLine(unsent.removeFirst())
            } else {
                finishMessage()
            }
        }
    }

    mutating func refuseMessage(_ failure: Failure) {
        for index in results.indices { results[index] = .failed(failure) }
        emit(.messageFinished(results.map { $0! }))
        current = nil
        state = .ready
        needsReset = false
        nextMessageOrQuit()
    }

    mutating func finishMessage() {
        emit(.messageFinished(results.map { $0 ?? .failed(Failure(stage: .data, reply: nil, detail: "no reply", isPermanent: false)) }))
        current = nil
        expected = []
        unsent = []
        state = .ready
        nextMessageOrQuit()
    }
}
