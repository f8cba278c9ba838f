import IMAPProtocol
import Testing

@Suite struct ListPatternTests {
    @Test(arguments: [
        ("*", "Archive.2024", true), ("%", "Archive.2024", false), ("%", "Archive", true),
        ("Archive.%", "Archive.2024", true), ("Archive.%", "Archive.2024.Q1", false),
        ("Archive*", "Archive.2024.Q1", true), ("A*4", "Archive.2024", true), ("A*5", "Archive.2024", false),
        ("inbox", "INBOX", true), ("In%", "INBOX", true), ("inbox", "Inbox.Sub", false), ("", "Sent", false),
        ("*%*", "Sent", true), ("S%t", "Sent", true), ("S%t", "S.t", false), ("Sent", "Sent", true),
    ])
    func matchesAsRFC3501Says(_ pattern: String, _ name: String, _ expected: Bool) {
        var matcher = ListPattern(pattern)
        let matched = matcher.matches(name)
        #expect(matched == expected, "\(pattern) against \(name)")
    }

    /// The work grows with the name's length, not exponentially: ten times the name, about ten times the
    /// steps, for the pattern that took a backtracking matcher 10 s.
    @Test func workGrowsLinearlyWithTheName() {
        var short = ListPattern("*a*a*a*a*aX")
        var long = short
        let shortMatched = short.matches(String(repeating: "a", count: 120))
        let longMatched = long.matches(String(repeating: "a", count: 1200))
        #expect(!shortMatched && !longMatched)
        #expect(short.steps > 0 && long.steps <= 11 * short.steps, "\(short.steps) then \(long.steps)")
    }

    @Test func aHundredThousandStarsAreOne() {
        var matcher = ListPattern(String(repeating: "*", count: 100_000))
        let matched = matcher.matches("Archive.2024")
        #expect(matched)
        #expect(matcher.steps <= 12)
    }
}
