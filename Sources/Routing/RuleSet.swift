import MailModel

/// All rules files, checked as a whole and indexed for lookup. Built only if every file parses and the set
/// holds together (no duplicates, no unknown upstreams, no alias cycles, every target of ours has a rule):
/// a set that does not validate is never used, so a bad edit can't half-apply.
public struct RuleSet: Sendable {
    /// Exact rules by `lower-cased local part @ domain key`.
    let exact: [String: AddressRule]
    /// Regular-expression rules in file order, compiled.
    let regexes: [CompiledRegexRule]
    /// Catch-all rules by domain key.
    let catchAll: [String: AddressRule]
    /// Domains whose addresses we answer for (by domain key).
    public let ourDomains: Set<String>
    let routesByDomain: [String: RouteRule]
    let routesBySubdomain: [String: RouteRule]
    let defaultRoute: RouteRule?
    public let ruleCount: Int

    struct CompiledRegexRule: @unchecked Sendable {
        // @unchecked: Regex is immutable once built and matching does not mutate it; it is just not marked Sendable.
        let rule: AddressRule
        let regex: Regex<AnyRegexOutput>
    }

    /// An empty set: no domains of ours, every route `mx`.
    public init() {
        exact = [:]
        regexes = []
        catchAll = [:]
        ourDomains = []
        routesByDomain = [:]
        routesBySubdomain = [:]
        defaultRoute = nil
        ruleCount = 0
    }

    /// Builds the set from files given as (name, text), in the order to read them (name order).
    /// `upstreams` are the names relaygate.yaml defines, for `relay:NAME`.
    public static func build(files: [(name: String, text: String)], upstreams: Set<String>) throws(RulesErrors)
        -> RuleSet
    {
        var errors: [RulesError] = []
        var lines: [RulesParser.Line] = []
        for file in files {
            let parsed = RulesParser.parse(file.text, file: file.name)
            lines += parsed.rules
            errors += parsed.errors
        }
        var builder = Builder()
        builder.exact.reserveCapacity(lines.count)
        for line in lines { builder.add(line, upstreams: upstreams, errors: &errors) }
        let set = builder.finish()
        errors += set.checkTargets()
        guard errors.isEmpty else { throw RulesErrors(errors: errors.sorted { $0.location < $1.location }) }
        return set
    }

    init(builder: Builder) {
        exact = builder.exact
        regexes = builder.regexes
        catchAll = builder.catchAll
        ourDomains = builder.ourDomains
        routesByDomain = builder.routesByDomain
        routesBySubdomain = builder.routesBySubdomain
        defaultRoute = builder.defaultRoute
        ruleCount = builder.count
    }

    static func exactKey(_ address: EmailAddress) -> String {
        address.localPart.lowercased() + "@" + address.domain.key
    }

    struct Builder {
        var exact: [String: AddressRule] = [:]
        var regexes: [CompiledRegexRule] = []
        var regexSources: [String: SourceLocation] = [:]
        var catchAll: [String: AddressRule] = [:]
        var ourDomains: Set<String> = []
        var routesByDomain: [String: RouteRule] = [:]
        var routesBySubdomain: [String: RouteRule] = [:]
        var defaultRoute: RouteRule?
        var count = 0

        mutating func add(_ line: RulesParser.Line, upstreams: Set<String>, errors: inout [RulesError]) {
            count += 1
            switch line {
            case .address(let rule):
                add(rule, errors: &errors)
            case .route(let rule):
                if case .relay(let name) = rule.route, !upstreams.contains(name) {
                    let known = upstreams.isEmpty ? "none are defined" : "defined: " + upstreams.sorted().joined(separator: ", ")
                    errors.append(
                        RulesError(rule.location, "relay:\(name) is not an upstream in relaygate.yaml (\(known))"))
                }
                let previous: RouteRule?
                switch rule.match {
                case .domain(let key): previous = routesByDomain.updateValue(rule, forKey: key)
                case .subdomains(let key): previous = routesBySubdomain.updateValue(rule, forKey: key)
                case .any:
                    previous = defaultRoute
                    defaultRoute = rule
                }
                if let previous {
                    errors.append(RulesError(rule.location, "route \(rule.match) is already given at \(previous.location)"))
                }
            }
        }

        private mutating func add(_ rule: AddressRule, errors: inout [RulesError]) {
            switch rule.pattern {
            case .exact(let address):
                if address.localPart.lowercased() == "postmaster", case .reject = rule.action {
                    errors.append(
                        RulesError(rule.location, "postmaster must stay deliverable (RFC 5321 4.5.1); it cannot be rejected"))
                }
                if let previous = exact.updateValue(rule, forKey: RuleSet.exactKey(address)) {
                    errors.append(RulesError(rule.location, "\(address) already has a rule at \(previous.location)"))
                }
                ourDomains.insert(address.domain.key)
            case .catchAll(let domain):
                if let previous = catchAll.updateValue(rule, forKey: domain.key) {
                    errors.append(RulesError(rule.location, "@\(domain) already has a catch-all at \(previous.location)"))
                }
                ourDomains.insert(domain.key)
            case .regex(let source, let domain):
                if let previous = regexSources[source] {
                    errors.append(
                        RulesError(rule.location, "/\(source)/ is already a rule at \(previous); this one is never reached"))
                    return
                }
                regexSources[source] = rule.location
                // The parser compiled it once already; it cannot fail now.
                guard let regex = try? Regex(source) else { return }
                regexes.append(CompiledRegexRule(rule: rule, regex: regex.ignoresCase()))
                if let domain { ourDomains.insert(domain.key) }
            }
        }

        func finish() -> RuleSet { RuleSet(builder: self) }
    }
}
