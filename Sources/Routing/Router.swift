import MailModel

/// The RCPT-time decision (DESIGN.md: recipients are resolved when they arrive): whether we take a
/// recipient, and if so every final destination with its route, the rule that chose it and the sender to
/// deliver with. Pure: the rules, the relay networks and the SRS keys are values; the day comes from a clock.
///
/// - An address at one of our domains is ours to answer for, from anyone: an SRS bounce address is
///   verified and sent back; otherwise its rule decides (`RuleSet.lookup`), and with no rule it is refused
///   with 550 5.1.1 right away (never accepted and bounced later: that would be backscatter). `postmaster`
///   at each of our domains and at our hostname is always taken (RFC 5321 4.5.1): by its own exact rule,
///   else into the local mailbox `postmaster`.
/// - A target of a rule that is itself ours is resolved again, at most `maxDepth` deep; one that is not
///   is forwarded: routed by the `route` lines, with the sender rewritten by SRS unless it is `<>` or at
///   one of our domains.
/// - Any other address is relaying: allowed only for authenticated or trusted-network clients (554 5.7.1
///   otherwise), routed by the `route` lines, sender unchanged.
public struct Router: Sendable {
    public static let maxDepth = 10

    public var rules: RuleSet
    public var relay: RelayNetworksPolicy
    public var srs: SRS?
    /// Our own name: `postmaster@hostname` (what a bare `RCPT TO:<postmaster>` means) is always taken.
    public var hostname: Domain
    /// `+` by default: `user+tag@d` falls back to `user@d`. Nil turns subaddresses off.
    public var subaddressDelimiter: Character?
    /// Days since 1970 (UTC), for SRS timestamps.
    public var day: @Sendable () -> Int

    public init(
        rules: RuleSet, relay: RelayNetworksPolicy = RelayNetworksPolicy(), srs: SRS?, hostname: String,
        subaddressDelimiter: Character? = "+", day: @escaping @Sendable () -> Int
    ) {
        self.rules = rules
        self.relay = relay
        self.srs = srs
        self.hostname = Domain(hostname)
        self.subaddressDelimiter = subaddressDelimiter
        self.day = day
    }

    public static let unknownUser = SMTPReply(550, EnhancedStatusCode(5, 1, 1), "Recipient address rejected: no such user here")
    public static let badSRS = SMTPReply(550, EnhancedStatusCode(5, 7, 1), "Invalid bounce address (SRS): forged or expired")
    public static let loop = SMTPReply(451, EnhancedStatusCode(4, 4, 6), "Routing loop detected; try again later")
    public static let badTarget = SMTPReply(451, EnhancedStatusCode(4, 3, 0), "Forwarding rule gives a bad address; try again later")

    /// How one address was resolved: the tree `relaygate rules test` prints.
    public struct Node: Sendable {
        public enum Result: Sendable {
            case destination(Route, sender: ReversePath?)
            case expanded([Node])
            case refused(SMTPReply, reason: String)
        }

        public let address: EmailAddress
        /// How the address was handled: "exact rule", "catch-all", "relay", "SRS bounce", …
        public let how: String
        public let rule: SourceLocation?
        public let result: Result
    }

    /// The decision and how it was reached.
    public struct Resolution: Sendable {
        public let decision: RecipientDecision
        public let tree: Node
    }

    public func resolve(_ recipient: EmailAddress, for submission: SubmissionContext) -> Resolution {
        let tree = node(for: recipient, submission: submission, depth: 0, path: [], origin: .client)
        var destinations: [Destination] = []
        if let refusal = collect(tree, into: &destinations) {
            return Resolution(decision: .refuse(refusal), tree: tree)
        }
        return Resolution(decision: .accept(destinations), tree: tree)
    }

    /// The destinations in the tree, or the first refusal in it: one target that cannot be reached refuses
    /// the recipient as a whole, so no copy goes out while the client believes none did.
    private func collect(_ node: Node, into destinations: inout [Destination]) -> SMTPReply? {
        switch node.result {
        case .destination(let route, let sender):
            destinations.append(
                Destination(address: node.address, route: route, rule: node.rule?.description, sender: sender))
            return nil
        case .expanded(let children):
            for child in children {
                if let refusal = collect(child, into: &destinations) { return refusal }
            }
            return nil
        case .refused(let reply, _):
            return reply
        }
    }

    /// Why we are looking at an address.
    private enum Origin {
        /// The client asked for it (RCPT).
        case client
        /// A rule of this address of ours produced it.
        case forward(by: EmailAddress)
        /// It came out of a verified SRS bounce address: it goes back, sender untouched.
        case bounce
    }

    /// - Parameters:
    ///   - path: the exact keys already on the way here, to find a loop through regular expressions.
    private func node(
        for address: EmailAddress, submission: SubmissionContext, depth: Int, path: Set<String>, origin: Origin
    ) -> Node {
        let key = RuleSet.exactKey(address)
        let isPostmaster = address.localPart.lowercased() == "postmaster"
        let ours = rules.isOurs(address.domain) || (isPostmaster && address.domain == hostname)
        guard ours else { return outside(address, submission: submission, origin: origin) }
        // `depth` counts the addresses of ours expanded before this one: ten may be, the eleventh is a loop.
        guard depth <= Self.maxDepth, !path.contains(key) else {
            return Node(
                address: address, how: "loop", rule: nil,
                result: .refused(Self.loop, reason: "rules lead back to \(address) or more than \(Self.maxDepth) deep"))
        }

        if let srs, SRS.isSRS(address.unquotedLocalPart) {
            do {
                let original = try srs.reverse(address.localPart, day: day())
                let child = node(
                    for: original, submission: submission, depth: depth + 1, path: path.union([key]), origin: .bounce)
                return Node(address: address, how: "SRS bounce, verified", rule: nil, result: .expanded([child]))
            } catch {
                return Node(address: address, how: "SRS", rule: nil, result: .refused(Self.badSRS, reason: "\(error)"))
            }
        }

        let match: RuleSet.Match?
        if isPostmaster {
            // Only postmaster's own rule may send it elsewhere; a regex or catch-all never swallows it.
            match = rules.lookup(address, subaddressDelimiter: nil).flatMap { $0.kind == .exact ? $0 : nil }
            if match == nil {
                return Node(
                    address: address, how: "postmaster (RFC 5321 4.5.1)", rule: nil,
                    result: .destination(.mailbox("postmaster"), sender: nil))
            }
        } else {
            match = rules.lookup(address, subaddressDelimiter: subaddressDelimiter)
        }
        guard let match else {
            return Node(
                address: address, how: "no rule", rule: nil,
                result: .refused(Self.unknownUser, reason: "\(address.domain.key) is ours and no rule takes \(address)"))
        }
        let rule = match.rule
        switch rule.action {
        case .reject(let reply):
            return Node(address: address, how: match.kind.rawValue, rule: rule.location, result: .refused(reply, reason: "reject rule"))
        case .discard:
            return Node(
                address: address, how: match.kind.rawValue, rule: rule.location, result: .destination(.discard, sender: nil))
        case .forward(let targets):
            var children: [Node] = []
            for target in targets {
                switch target {
                case .mailbox(let name):
                    children.append(
                        Node(address: address, how: "mailbox", rule: rule.location, result: .destination(.mailbox(name), sender: nil)))
                case .address(let next):
                    let child = node(
                        for: next, submission: submission, depth: depth + 1, path: path.union([key]),
                        origin: .forward(by: address))
                    children.append(child.withRule(rule.location))
                case .template(let template):
                    // However a group is made, the target stays at the domain the rule wrote (checked at load;
                    // here again, so a quoted local part full of `@` cannot move it either).
                    guard let text = RulesParser.substitute(template, groups: match.groups),
                        let next = try? EmailAddress(parsing: text),
                        let domain = RulesParser.templateDomain(template), next.domain == Domain(domain)
                    else {
                        children.append(
                            Node(
                                address: address, how: "bad target", rule: rule.location,
                                result: .refused(Self.badTarget, reason: "\(template) gives no valid address here")))
                        continue
                    }
                    let child = node(
                        for: next, submission: submission, depth: depth + 1, path: path.union([key]),
                        origin: .forward(by: address))
                    children.append(child.withRule(rule.location))
                }
            }
            return Node(address: address, how: match.kind.rawValue, rule: rule.location, result: .expanded(children))
        }
    }

    /// An address not at our domains: relaying when it is what the client asked for, a forward when a rule of
    /// ours produced it, a returning bounce when it came out of an SRS address.
    private func outside(_ address: EmailAddress, submission: SubmissionContext, origin: Origin) -> Node {
        let (route, routeLocation) = rules.route(for: address.domain)
        switch origin {
        case .client:
            guard relay.mayRelay(submission) else {
                return Node(
                    address: address, how: "relay", rule: nil,
                    result: .refused(RelayNetworksPolicy.relayDenied, reason: "not our domain, and the client may not relay"))
            }
            return Node(address: address, how: "relay", rule: routeLocation, result: .destination(route, sender: nil))
        case .forward(let forwarder):
            let sender = rewrittenSender(submission.sender, forwardingDomain: forwarder.domain)
            return Node(address: address, how: "forward", rule: nil, result: .destination(route, sender: sender))
        case .bounce:
            return Node(address: address, how: "bounce return", rule: routeLocation, result: .destination(route, sender: nil))
        }
    }

    /// SRS for a forward: not for `<>` (a bounce must stay one) nor for senders at our own domains.
    func rewrittenSender(_ sender: ReversePath, forwardingDomain: Domain) -> ReversePath? {
        guard let srs, let address = sender.address, !rules.isOurs(address.domain) else { return nil }
        return .mailbox(srs.forward(address, through: forwardingDomain.key, day: day()))
    }
}

extension Router.Node {
    /// The same node, credited to the rule that produced it when it has none of its own.
    func withRule(_ location: SourceLocation) -> Router.Node {
        rule == nil ? Router.Node(address: address, how: how, rule: location, result: result) : self
    }
}

extension Router: RecipientPolicy {
    public func decide(recipient: EmailAddress, for submission: SubmissionContext) -> RecipientDecision {
        resolve(recipient, for: submission).decision
    }
}
