import MailModel
import NIOCore

extension SMTPServerSession {
    /// Reads content from the buffered input. Returns false when it needs more input.
    mutating func readContent() -> Bool {
        guard case .receivingData(let transaction, var reader) = state, input.readableBytes > 0 else { return false }
        var output = ByteBufferAllocator().buffer(capacity: input.readableBytes)
        let finished = reader.consume(&input, into: &output)
        if output.readableBytes > 0 { emit(.appendBody(output)) }
        if finished {
            endOfData(transaction, reader.currentSummary)
        } else {
            state = .receivingData(transaction, reader)
        }
        return true
    }

    /// The final `.` arrived: refuse the message for what the reader found, or hand it to the driver to commit.
    private mutating func endOfData(_ transaction: Transaction, _ summary: DataBodyReader.Summary) {
        let refusal: SMTPReply? =
            if summary.exceededSizeLimit { .messageTooBig } else if summary.sawBareCR || summary.sawBareLF {
                .bareLineEnding
            } else if summary.sawNUL { .nulInContent }
            // Our own Received field is one more.
            else if summary.receivedHeaderCount + 1 > configuration.maxReceivedHeaders { .mailLoop } else { nil }
        if let refusal {
            emit(.abortMessage)
            state = .mailTransaction(transaction)  // so the log line names the queue ID and sender
            fail(refusal, command: "DATA")
            if state.acceptsInput { state = .ready }
            return
        }
        state = .awaitingCommit(transaction)
        let envelope = Envelope(
            queueID: transaction.queueID, sender: transaction.sender, recipients: transaction.recipients,
            parameters: transaction.parameters, arrival: now, size: receivedHeaderOctets + summary.size,
            has8BitContent: summary.has8BitOctets,
            client: ClientFacts(
                address: client.address?.description ?? "unknown", port: client.port, helo: hello?.name ?? "",
                protocolName: protocolName, tlsVersion: tls.version, authenticatedUser: authenticatedUser),
            receivedBy: configuration.hostname)
        emit(.commitMessage(AcceptedMessage(envelope: envelope, contentSize: summary.size)))
    }

    /// The message is durable: now, and only now, say 250.
    public mutating func messageCommitted(queueID: QueueID) {
        guard case .awaitingCommit = state else { return }
        state = .ready
        errorCount = 0
        emit(.send(.queued(queueID)))
    }

    /// The message could not be made durable: a temporary failure, so the client keeps it and retries.
    public mutating func messageCommitFailed() {
        guard case .awaitingCommit = state else { return }
        state = .ready
        emit(.send(.localError))
    }
}
