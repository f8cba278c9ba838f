import MailModel
import Testing

@testable import Routing

@Suite struct RulesParserTests {
    func parse(_ text: String) -> (rules: [RulesParser.Line], errors: [RulesError]) {
        RulesParser.parse(text, file: "t.rules")
    }

    @Test func aRegexMayHoldSpacesAndHashesAndCommentsStillWork() throws {
        let (rules, errors) = parse("/^(a b#c)@x\\.example$/   $1@y.example   # a comment\n")
        #expect(errors.isEmpty, "\(errors)")
        guard case .address(let rule) = try #require(rules.first), case .regex(let source, let domain) = rule.pattern
        else {
            Issue.record("not a regex rule")
            return
        }
        #expect(source == "^(a b#c)@x\\.example$")
        #expect(domain?.name == "x.example")
        guard case .forward(let targets) = rule.action else {
            Issue.record("not a forward")
            return
        }
        #expect(targets == [.template("$1@y.example")])
    }

    @Test(arguments: [
        ("^(.+)@old\\.example$", "old.example"), ("^x@a-b\\.example$", "a-b.example"),
        ("^(.+)@(.+)\\.old\\.example$", nil), ("^x@old\\.example", nil), ("^x@old.example$", nil),
    ])
    func literalDomainOfARegex(_ source: String, _ domain: String?) {
        #expect(RulesParser.literalDomain(ofRegex: source)?.name == domain)
    }

    @Test func crlfLinesAndTabsParse() {
        let (rules, errors) = parse("a@shop.example\talice@gmail.com,\tmailbox:a\r\nroute *\tmx\r\n")
        #expect(errors.isEmpty, "\(errors)")
        #expect(rules.count == 2)
    }

    @Test func rejectKeepsItsTextAndDefaults() throws {
        let (rules, _) = parse("a@x.example reject 550 5.7.1 Use the form at https://x.example/#contact\nb@x.example reject\n")
        guard case .address(let first) = rules[0], case .reject(let reply) = first.action else {
            Issue.record("not a reject")
            return
        }
        // The # after "/" is not after white space: part of the text, not a comment.
        #expect(reply.lines == ["Use the form at https://x.example/#contact"])
        guard case .address(let second) = rules[1], case .reject(let defaulted) = second.action else {
            Issue.record("not a reject")
            return
        }
        #expect(defaulted.code == 550 && defaulted.enhancedCode == EnhancedStatusCode(5, 7, 1))
    }

    @Test(arguments: [
        ("a@x.example mailbox:../etc", "mailbox name"),
        ("a@x.example alice@gmail.com, discard", "must stand alone"),
        ("a@x.example reject 451 5.7.1 x", "must be 4.X.Y"),
        ("a@[192.0.2.1] b@gmail.com", "address literals"),
        ("@ b@gmail.com", "catch-all"),
        ("route x.example mailbox:a", "routes are mx"),
        ("route x.example [host]:99999", "expected mx"),
        ("/x/y b@gmail.com", "space after the closing /"),
        ("/(/ b@gmail.com", "bad regular expression"),
    ])
    func errorsSayWhatIsWrong(_ line: String, _ message: String) {
        let (_, errors) = parse(line)
        #expect(errors.count == 1)
        #expect(errors.first?.description.hasPrefix("t.rules:1: ") == true)
        #expect(errors.first?.message.contains(message) == true, "\(errors)")
    }
}
