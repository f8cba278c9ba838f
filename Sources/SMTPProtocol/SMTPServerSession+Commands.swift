import MailModel

extension SMTPServerSession {
    mutating func handle(_ command: SMTPCommand) {
        switch command {
        case .quit:
            close(with: .closing(configuration.hostname))
        case .noop:
            emit(.send(.ok))
        case .help:
            emit(.send(.help))
        case .vrfy:
            emit(.send(.cannotVerify))
        case .rset:
            state = hello == nil ? .awaitingHello : .ready
            emit(.send(.ok))
        case .ehlo(let name), .helo(let name):
            greet(name, extended: command.isEHLO)
        case .startTLS:
            startTLS()
        case .auth(let mechanism, let initialResponse):
            auth(mechanism: mechanism, initialResponse: initialResponse)
        case .mail(let sender, let parameters):
            mail(from: sender, parameters)
        case .rcpt(let path, let parameters):
            rcpt(to: path, parameters)
        case .data:
            data()
        }
    }

    /// EHLO/HELO (RFC 5321 4.1.1.1): resets any transaction; EHLO lists our extensions.
    private mutating func greet(_ name: String, extended: Bool) {
        hello = Hello(name: name, extended: extended)
        state = .ready
        guard extended else {
            emit(.send(SMTPReply(250, nil, configuration.hostname)))
            return
        }
        var lines = [
            "\(configuration.hostname) greets \(name)",
            "SIZE \(configuration.maxMessageSize)",
            "8BITMIME",
            "PIPELINING",
            "ENHANCEDSTATUSCODES",
            "SMTPUTF8",
            "DSN",
        ]
        if configuration.startTLSAvailable && !tls.isActive { lines.append("STARTTLS") }
        if configuration.authAvailable && tls.isEstablished && authenticatedUser == nil {
            lines.append("AUTH PLAIN LOGIN")
        }
        // RFC 2034: no enhanced status codes on the EHLO reply.
        emit(.send(SMTPReply(250, nil, lines)))
    }

    /// STARTTLS (RFC 3207 4.2): after the 220, everything is forgotten — the hello, any transaction, any
    /// authentication, and every byte the client sent in plaintext after the command (CVE-2011-0411).
    private mutating func startTLS() {
        guard configuration.startTLSAvailable else { return fail(.tlsNotAvailable, command: "STARTTLS") }
        guard !tls.isActive else { return fail(.badSequence("TLS already active"), command: "STARTTLS") }
        guard let hello, hello.extended else { return fail(.badSequence("Send EHLO first"), command: "STARTTLS") }
        guard state.transaction == nil else {
            return fail(.badSequence("Mail transaction in progress"), command: "STARTTLS")
        }
        if input.readableBytes > 0 {
            emit(.log(.protocolViolation("\(input.readableBytes) octets pipelined after STARTTLS discarded")))
        }
        input.clear()
        framer.reset()
        self.hello = nil
        authenticatedUser = nil
        tls = .negotiating
        awaitingTLSAfterSTARTTLS = true
        state = .awaitingHello
        emit(.send(.readyForTLS))
        emit(.startTLS)
    }

    /// MAIL FROM (RFC 5321 4.1.1.2).
    private mutating func mail(from sender: ReversePath, _ rawParameters: [ESMTPParameter]) {
        guard let hello else { return fail(.badSequence("Send EHLO or HELO first"), command: "MAIL") }
        guard state.transaction == nil else { return fail(.badSequence("Sender already given"), command: "MAIL") }
        guard hello.extended || rawParameters.isEmpty else {
            return fail(.unrecognizedParameter("Parameters need EHLO"), command: "MAIL")
        }
        var parameters: MailParameters
        do {
            parameters = try ESMTPParameters.mail(rawParameters)
        } catch {
            return fail(error.reply, command: "MAIL")
        }
        if parameters.authorizedSender != nil && authenticatedUser == nil {
            // RFC 4954 5: an AUTH= from a client that did not authenticate is not believed; it becomes <>.
            parameters.authorizedSender = ""
        }
        if !sender.isASCII && !parameters.smtpUTF8 { return fail(.utf8Required, command: "MAIL") }
        // An authenticated user sends only as what the users file allows; the null sender (a bounce from an
        // application) is always allowed, as Postfix's sender-login check allows it.
        if let user = authenticatedUser, let address = sender.address, !environment.userMaySend(user, address) {
            return fail(.senderNotOwned(address, user: user), command: "MAIL")
        }
        if let size = parameters.declaredSize, size > configuration.maxMessageSize {
            return fail(.messageTooBig, command: "MAIL")
        }
        guard environment.spoolHasRoom(parameters.declaredSize) else {
            return fail(.insufficientStorage, command: "MAIL")
        }
        state = .mailTransaction(
            Transaction(queueID: environment.makeQueueID(), sender: sender, parameters: parameters))
        emit(.send(.senderOk))
    }

    /// RCPT TO (RFC 5321 4.1.1.3). The relay decision is the policy's; limits and syntax are ours.
    private mutating func rcpt(to path: ForwardPath, _ rawParameters: [ESMTPParameter]) {
        guard case .mailTransaction(var transaction) = state else {
            return fail(.badSequence("Send MAIL first"), command: "RCPT")
        }
        let address: EmailAddress
        switch path {
        case .mailbox(let mailbox): address = mailbox
        case .postmaster: address = EmailAddress(localPart: "postmaster", domain: Domain(configuration.hostname))
        }
        guard hello?.extended == true || rawParameters.isEmpty else {
            return fail(.unrecognizedParameter("Parameters need EHLO"), command: "RCPT", recipient: "\(address)")
        }
        let notify: NotifyConditions?
        let original: OriginalRecipient?
        do {
            (notify, original) = try ESMTPParameters.rcpt(rawParameters)
        } catch {
            return fail(error.reply, command: "RCPT", recipient: "\(address)")
        }
        if !address.isASCII && !transaction.parameters.smtpUTF8 {
            return fail(.utf8Required, command: "RCPT", recipient: "\(address)")
        }
        if transaction.recipientAddresses.contains(address) {
            // The same recipient twice gets one copy (RFC 5321 3.3 lets us collapse duplicates).
            return emit(.send(.recipientOk))
        }
        guard transaction.recipientAddresses.count < configuration.maxRecipients else {
            return fail(.tooManyRecipients, command: "RCPT", recipient: "\(address)")
        }
        let context = SubmissionContext(
            clientAddress: client.address, authenticatedUser: authenticatedUser, sender: transaction.sender)
        let destinations: [Destination]
        switch environment.policy.decide(recipient: address, for: context) {
        case .refuse(let reply):
            return fail(reply, command: "RCPT", recipient: "\(address)")
        case .accept(let accepted):
            destinations = accepted
        }
        transaction.recipientAddresses.insert(address)
        for destination in destinations where transaction.destinations.insert(destination.address).inserted {
            // A copy forwarded elsewhere remembers what it was sent to, for a DSN (RFC 3461 4.2).
            let original =
                original
                ?? (destination.address == address
                    ? nil : OriginalRecipient(addressType: "rfc822", address: "\(address)"))
            transaction.recipients.append(
                Recipient(
                    address: destination.address, originalRecipient: original, notify: notify,
                    route: destination.route, rule: destination.rule, sender: destination.sender))
        }
        state = .mailTransaction(transaction)
        emit(.send(.recipientOk))
    }

    /// DATA (RFC 5321 4.1.1.4). Content sent before our 354 is a protocol error (RFC 2920 3.1): it would
    /// otherwise be read as commands if DATA failed, so the connection is closed.
    private mutating func data() {
        if input.readableBytes > 0 {
            emit(.log(.protocolViolation("content pipelined before the 354 reply")))
            return close(with: .earlyData)
        }
        guard case .mailTransaction(let transaction) = state else {
            return fail(.badSequence("Send MAIL first"), command: "DATA")
        }
        guard !transaction.recipients.isEmpty else { return fail(.noValidRecipients, command: "DATA") }
        state = .receivingData(transaction, DataBodyReader(maxSize: configuration.maxMessageSize))
        emit(.send(.startData))
        let header = receivedHeader(for: transaction).rendered(secondsSince1970: Int(now.timeIntervalSince1970))
        receivedHeaderOctets = header.utf8.count
        emit(.startMessage(MessageStart(queueID: transaction.queueID, receivedHeader: header)))
    }

    private func receivedHeader(for transaction: Transaction) -> ReceivedHeader {
        ReceivedHeader(
            helo: hello?.name ?? "unknown",
            clientAddress: client.address,
            byHost: configuration.hostname,
            protocolName: protocolName,
            tlsVersion: tls.version,
            queueID: transaction.queueID,
            recipient: transaction.recipients.count == 1 ? transaction.recipients[0].address : nil)
    }

    /// The `with` keyword of RFC 5321 4.4 and RFC 3848: SMTP, ESMTP, and S for TLS, A for AUTH.
    var protocolName: String {
        guard hello?.extended == true else { return "SMTP" }
        return "ESMTP" + (tls.isActive ? "S" : "") + (authenticatedUser != nil ? "A" : "")
    }
}

extension SMTPCommand {
    var isEHLO: Bool {
        if case .ehlo = self { return true }
        return false
    }
}

extension ESMTPParameters.Failure {
    var reply: SMTPReply {
        switch self {
        case .unrecognized(let text): .unrecognizedParameter(text)
        case .badValue(let text): .syntax(text)
        }
    }
}
