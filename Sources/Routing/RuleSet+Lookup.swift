import MailModel

extension RuleSet {
    /// How an address found its rule.
    public enum MatchKind: String, Sendable {
        case exact = "exact rule"
        case subaddress = "exact rule, without the subaddress"
        case regex = "regular expression"
        case catchAll = "catch-all"
    }

    public struct Match: Sendable {
        public let rule: AddressRule
        public let kind: MatchKind
        /// A regular expression's groups, `$0` (the whole match) first.
        public let groups: [String]
    }

    /// Whether mail for this domain is ours to accept (a rule names the domain).
    public func isOurs(_ domain: Domain) -> Bool { ourDomains.contains(domain.key) }

    /// The rule for an address: exact, then exact without the subaddress (`user+tag@d` → `user@d`), then
    /// regular expressions in file order, then the domain's catch-all.
    public func lookup(_ address: EmailAddress, subaddressDelimiter: Character?) -> Match? {
        let key = Self.exactKey(address)
        if let rule = exact[key] { return Match(rule: rule, kind: .exact, groups: []) }
        if let delimiter = subaddressDelimiter, !address.hasQuotedLocalPart,
            let cut = address.localPart.firstIndex(of: delimiter), cut != address.localPart.startIndex
        {
            let base = EmailAddress(localPart: String(address.localPart[..<cut]), domain: address.domain)
            if let rule = exact[Self.exactKey(base)] { return Match(rule: rule, kind: .subaddress, groups: []) }
        }
        if !regexes.isEmpty {
            let subject = address.localPart.lowercased() + "@" + address.domain.key
            for compiled in regexes {
                guard let match = try? compiled.regex.firstMatch(in: subject) else { continue }
                let groups = match.output.map { $0.substring.map(String.init) ?? "" }
                return Match(rule: compiled.rule, kind: .regex, groups: groups)
            }
        }
        if let rule = catchAll[address.domain.key] { return Match(rule: rule, kind: .catchAll, groups: []) }
        return nil
    }

    /// The route for mail to `domain`: its own `route` line, else the nearest `route .parent` line, else
    /// `route *`, else `mx`.
    public func route(for domain: Domain) -> (route: Route, location: SourceLocation?) {
        let key = domain.key
        if let rule = routesByDomain[key] { return (rule.route, rule.location) }
        var rest = Substring(key)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            if let rule = routesBySubdomain[String(rest)] { return (rule.route, rule.location) }
        }
        if let rule = defaultRoute { return (rule.route, rule.location) }
        return (.mx, nil)
    }

    /// Every literal target at one of our domains must lead somewhere, and following targets must never come
    /// back to where it started (an alias cycle). Targets with `$1`… are only known at RCPT time; the
    /// router's depth limit covers those.
    func checkTargets() -> [RulesError] {
        var errors: [RulesError] = []
        var reported: Set<Set<SourceLocation>> = []
        var chainLengths: [SourceLocation: Int] = [:]
        // Most rules forward outside our domains: nothing to follow there. The rest in file order, so a cycle
        // is reported at its first rule.
        func followsOurs(_ rule: AddressRule) -> Bool {
            guard case .forward(let targets) = rule.action else { return false }
            return targets.contains { if case .address(let target) = $0 { isOurs(target.domain) } else { false } }
        }
        let following =
            exact.values.filter(followsOurs) + catchAll.values.filter(followsOurs) + regexes.map(\.rule).filter(followsOurs)
        for rule in following.sorted(by: { $0.location < $1.location }) {
            guard case .forward(let targets) = rule.action else { continue }
            for case .address(let target) in targets where isOurs(target.domain) {
                if lookup(target, subaddressDelimiter: nil) == nil && target.localPart.lowercased() != "postmaster" {
                    errors.append(
                        RulesError(
                            rule.location,
                            "\(target) is at one of our domains but no rule takes it: mail to it would be refused"))
                }
            }
            if let cycle = cycle(from: rule) {
                if reported.insert(Set(cycle.map(\.location))).inserted {
                    let path = cycle.map { "\($0.location)" }.joined(separator: " → ")
                    errors.append(RulesError(rule.location, "alias cycle: \(path)"))
                }
            } else if chainLength(from: rule, memo: &chainLengths, visiting: []) > Router.maxDepth + 1 {
                errors.append(
                    RulesError(rule.location, "targets of ours lead more than \(Router.maxDepth) rules deep from here"))
            }
        }
        return errors
    }

    /// The most rules a chain of literal targets of ours passes through, starting at `rule`.
    private func chainLength(from rule: AddressRule, memo: inout [SourceLocation: Int], visiting: Set<SourceLocation>)
        -> Int
    {
        if let known = memo[rule.location] { return known }
        // A cycle is reported on its own; here it only must not recurse for ever.
        guard !visiting.contains(rule.location), case .forward(let targets) = rule.action else { return 1 }
        var longest = 0
        for case .address(let target) in targets where isOurs(target.domain) {
            guard let next = lookup(target, subaddressDelimiter: nil) else { continue }
            longest = max(longest, chainLength(from: next.rule, memo: &memo, visiting: visiting.union([rule.location])))
        }
        memo[rule.location] = longest + 1
        return longest + 1
    }

    /// A chain of rules from `start` back to itself, following literal targets, if there is one.
    private func cycle(from start: AddressRule) -> [AddressRule]? {
        var path: [AddressRule] = []
        func visit(_ rule: AddressRule) -> Bool {
            if path.contains(where: { $0.location == rule.location }) {
                // Back at the start is the cycle we look for; another loop is found from its own rules.
                guard rule.location == start.location else { return false }
                path.append(rule)
                return true
            }
            guard path.count <= Router.maxDepth, case .forward(let targets) = rule.action else { return false }
            path.append(rule)
            for case .address(let target) in targets where isOurs(target.domain) {
                guard let next = lookup(target, subaddressDelimiter: nil) else { continue }
                if visit(next.rule) { return true }
            }
            path.removeLast()
            return false
        }
        return visit(start) ? path : nil
    }
}
