import Foundation
import MailModel
import Routing
import Testing

/// Golden tests: each `Fixtures/golden/NN-name.rules` has a `NN-name.expected` listing addresses and the
/// decision a session must make for each, one behaviour per pair. An expected file that starts with
/// `ERROR` lines lists the problems the rules must be refused with instead.
///
/// Expected format: a case line `ADDRESS [from=SENDER] [client=IP] [auth=USER]` (defaults: from
/// `<sender@example.org>`, client 192.0.2.1, which is not trusted, no AUTH), then one indented line per
/// destination, `ADDRESS ROUTE rule=LINE [sender=SENDER]`, or `refused CODE X.Y.Z`.
@Suite struct GoldenRulesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden")

    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".rules") }.map { String($0.dropLast(6)) }.sorted()
    }

    /// The day the fixtures' SRS timestamps were made on (2026-11-27).
    static let day = 20_784

    static func router(_ rules: RuleSet) -> Router {
        Router(
            rules: rules, srs: SRS(secrets: [Array("golden-secret".utf8)]), hostname: "mx.test",
            day: { GoldenRulesTests.day })
    }

    @Test func thereAreFixtures() {
        #expect(Self.names.count >= 15)
    }

    @Test(arguments: names)
    func fixture(_ name: String) throws {
        let rulesText = try String(contentsOf: Self.directory.appendingPathComponent(name + ".rules"), encoding: .utf8)
        let expected = try String(contentsOf: Self.directory.appendingPathComponent(name + ".expected"), encoding: .utf8)
        let lines = expected.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
        let file = name + ".rules"
        let built = Result { () throws(RulesErrors) in
            try RuleSet.build(files: [(file, rulesText)], upstreams: ["provider"])
        }
        if lines.first?.hasPrefix("ERROR") == true {
            guard case .failure(let failure) = built else {
                Issue.record("\(name): the rules loaded, but errors were expected")
                return
            }
            let actual = failure.errors.map { "ERROR \($0.location.line): \($0.message)" }
            #expect(actual.count == lines.count, "\(name): \(actual)")
            for (want, got) in zip(lines, actual) {
                let (wantLine, wantText) = splitError(want)
                let (gotLine, gotText) = splitError(got)
                #expect(wantLine == gotLine && gotText.contains(wantText), "\(name): expected \(want), got \(got)")
            }
            return
        }
        let rules = try built.get()
        let router = Self.router(rules)
        var actual: [String] = []
        for line in lines where !line.hasPrefix(" ") {
            actual.append(line)
            actual += try render(line, router: router, file: file)
        }
        #expect(actual == lines, "\(name):\n\(actual.joined(separator: "\n"))")
    }

    private func splitError(_ line: String) -> (String, String) {
        let parts = line.split(separator: ":", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : "")
    }

    private func render(_ caseLine: String, router: Router, file: String) throws -> [String] {
        let words = caseLine.split(separator: " ").map(String.init)
        let address = try EmailAddress(parsing: words[0])
        var sender = ReversePath.mailbox(try EmailAddress(parsing: "sender@example.org"))
        var client = IPAddress("192.0.2.1")
        var user: String?
        for option in words.dropFirst() {
            let (key, value) = (option.prefix { $0 != "=" }, String(option.drop { $0 != "=" }.dropFirst()))
            switch key {
            case "from": sender = value == "<>" ? .null : .mailbox(try EmailAddress(parsingPath: value))
            case "client": client = IPAddress(value)
            case "auth": user = value
            default: Issue.record("unknown option \(option)")
            }
        }
        let context = SubmissionContext(clientAddress: client, authenticatedUser: user, sender: sender)
        switch router.resolve(address, for: context).decision {
        case .refuse(let reply):
            return ["  refused \(reply.code) \(reply.enhancedCode.map { "\($0)" } ?? "")"]
        case .accept(let destinations):
            return destinations.map { destination in
                var line = "  \(destination.address) \(destination.route)"
                if let rule = destination.rule {
                    line += " rule=" + (rule.hasPrefix(file + ":") ? String(rule.dropFirst(file.count + 1)) : rule)
                }
                if let sender = destination.sender { line += " sender=\(sender)" }
                return line
            }
        }
    }
}
