import MailModel
import Routing

/// `relaygate bench rules`: how long a large rule table takes to load and a lookup takes, measured on
/// synthetic rules (`user<N>@domain<N mod 100>.example` each forwarded to an outside address, plus a
/// catch-all and a regular expression per domain, so misses walk the whole precedence).
public enum RulesBenchmark {
    public static func run(rules count: Int, lookups: Int) throws -> String {
        var text = ""
        text.reserveCapacity(count * 48)
        for index in 0..<count {
            text += "user\(index)@domain\(index % 100).example   target\(index)@gmail.com\n"
        }
        for domain in 0..<100 {
            text += "/^list-(.+)@domain\(domain)\\.example$/   $1@lists.example.net\n"
            text += "@domain\(domain).example   catchall\(domain)@gmail.com\n"
        }
        let clock = ContinuousClock()
        let start = clock.now
        let rules = try RuleSet.build(files: [("bench.rules", text)], upstreams: [])
        let loadTime = clock.now - start

        let router = Router(
            rules: rules, srs: SRS(secrets: [Array("benchmark-secret-key".utf8)]), hostname: "mx.bench.example",
            day: { 20_000 })
        let context = SubmissionContext(
            clientAddress: IPAddress("192.0.2.1"), authenticatedUser: nil,
            sender: .mailbox(EmailAddress(localPart: "sender", domain: Domain("example.org"))))
        var generator = SystemRandomNumberGenerator()
        let exact = (0..<lookups).map { _ in
            let index = Int.random(in: 0..<count, using: &generator)
            return EmailAddress(localPart: "user\(index)", domain: Domain("domain\(index % 100).example"))
        }
        let missing = (0..<lookups).map { index in
            EmailAddress(localPart: "nobody\(index)", domain: Domain("domain\(index % 100).example"))
        }
        var accepted = 0
        func time(_ addresses: [EmailAddress]) -> Duration {
            let start = clock.now
            for address in addresses {
                if case .accept = router.resolve(address, for: context).decision { accepted += 1 }
            }
            return (clock.now - start) / addresses.count
        }
        let exactTime = time(exact)
        let catchAllTime = time(missing)
        precondition(accepted == 2 * lookups, "every synthetic address is accepted")
        return """
            rules: \(rules.ruleCount) (\(count) exact, 100 regular expressions, 100 catch-alls) over \(rules.ourDomains.count) domains
            load (parse, validate, index): \(milliseconds(loadTime)) ms
            lookup, exact rule (with SRS rewrite): \(microseconds(exactTime)) µs each
            lookup, through 100 regular expressions to the catch-all: \(microseconds(catchAllTime)) µs each
            """
    }

    private static func milliseconds(_ duration: Duration) -> String {
        String(format: duration / .milliseconds(1))
    }

    private static func microseconds(_ duration: Duration) -> String {
        String(format: duration / .microseconds(1))
    }

}

extension String {
    fileprivate init(format value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
