/// LIST's and LSUB's pattern (RFC 3501 6.3.8): `*` matches anything, `%` anything but the delimiter `.`;
/// INBOX matches without regard to case.
///
/// Matched as an automaton, not by backtracking: the set of pattern positions reachable so far advances
/// once per character of the name, so a match costs at most (name length × pattern length) steps, and
/// `*a*a*a*a*aX` against a long name costs no more than any other pattern of its length. A recursive
/// matcher took 10 s on that pattern and overflowed the stack on 100,000 `*`. Patterns are at most
/// `maxLength` octets (longer ones are refused before any matching), and a run of wildcards counts as one.
public struct ListPattern: Sendable {
    public static let maxLength = 1024

    private let pattern: [Character]
    /// Steps taken by all matches so far (each is one pattern position advanced over one character): what
    /// the tests count instead of timing.
    public private(set) var steps = 0

    /// A run of wildcards matches what its widest member does: one `*` if it holds any, else one `%`.
    public init(_ pattern: String) {
        var collapsed: [Character] = []
        for character in pattern {
            let wild = character == "*" || character == "%"
            if wild, let last = collapsed.last, last == "*" || last == "%" {
                if character == "*" { collapsed[collapsed.count - 1] = "*" }
                continue
            }
            collapsed.append(character)
        }
        self.pattern = collapsed
    }

    public mutating func matches(_ name: String) -> Bool {
        if name.uppercased() == "INBOX" {
            return run(pattern.map { Character($0.uppercased()) }, Array("INBOX"))
        }
        return run(pattern, Array(name))
    }

    private mutating func run(_ pattern: [Character], _ name: [Character]) -> Bool {
        // active[i]: the first i pattern characters can match what was read so far.
        var active = [Bool](repeating: false, count: pattern.count + 1)
        active[0] = true
        close(&active, pattern)
        for character in name {
            var next = [Bool](repeating: false, count: pattern.count + 1)
            var any = false
            for position in pattern.indices where active[position] {
                steps += 1
                switch pattern[position] {
                case "*":
                    next[position] = true
                case "%" where character != ".":
                    next[position] = true
                case character:
                    next[position + 1] = true
                default:
                    continue
                }
                any = true
            }
            guard any else { return false }
            close(&next, pattern)
            active = next
        }
        return active[pattern.count]
    }

    /// A wildcard may match nothing: the position after it is reachable too.
    private func close(_ active: inout [Bool], _ pattern: [Character]) {
        for position in pattern.indices where active[position] && (pattern[position] == "*" || pattern[position] == "%")
        {
            active[position + 1] = true
        }
    }
}

/// One line of a LIST or LSUB answer: a folder and its attributes.
public struct ListEntry: Equatable, Sendable {
    public var name: String
    public var attributes: [String]

    public init(name: String, attributes: [String]) {
        self.name = name
        self.attributes = attributes
    }

    /// What LIST or LSUB answers for `pattern`, from the folders and the subscriptions. Pure, and run where
    /// the folders are listed, off the event loop: its work grows with the folders, their names and the
    /// pattern (`ListPattern`), never more.
    public static func matching(
        _ pattern: String, names: [String], subscribed: [String], subscribedOnly: Bool
    ) -> [ListEntry] {
        var matcher = ListPattern(pattern)
        guard subscribedOnly else {
            var parents = Set<String>()
            for name in names {
                var parent = Substring(name)
                while let dot = parent.lastIndex(of: ".") {
                    parent = parent[..<dot]
                    parents.insert(String(parent))
                }
            }
            return names.filter { matcher.matches($0) }.map {
                ListEntry(name: $0, attributes: [parents.contains($0) ? "\\HasChildren" : "\\HasNoChildren"])
            }
        }
        // RFC 3501 6.3.9: when `%` stops short of a subscribed folder, its level that does match is answered,
        // as \Noselect, unless it is subscribed itself.
        let subscribedSet = Set(subscribed)
        var implied = Set<String>()
        var entries: [ListEntry] = []
        for name in subscribed {
            if matcher.matches(name) {
                entries.append(ListEntry(name: name, attributes: []))
                continue
            }
            guard pattern.contains("%") else { continue }
            var parent = name
            while let dot = parent.lastIndex(of: ".") {
                parent = String(parent[..<dot])
                if !subscribedSet.contains(parent), !implied.contains(parent), matcher.matches(parent) {
                    implied.insert(parent)
                    entries.append(ListEntry(name: parent, attributes: ["\\Noselect"]))
                }
            }
        }
        return entries
    }
}
