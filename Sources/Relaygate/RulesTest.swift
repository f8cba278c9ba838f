import Foundation
import MailModel
import Routing

/// `relaygate rules test ADDRESS`: the decision a real session would make for one RCPT, and how the rules
/// reached it (each step with its rule's file:line), each final destination with its route and sender.
public enum RulesTest {
    public struct Outcome {
        public let accepted: Bool
        public let report: String
    }

    public static func run(
        _ settings: Settings, recipient: String, sender: String?, client: String?, user: String?
    ) throws -> Outcome {
        let address: EmailAddress
        do {
            address = try EmailAddress(parsing: recipient)
        } catch {
            throw RulesLoadError("\(recipient) is not an address: \(error)")
        }
        let reversePath: ReversePath
        switch sender {
        case nil, "", "<>": reversePath = .null
        case let text?:
            do {
                reversePath = .mailbox(try EmailAddress(parsing: text.trimmingCharacters(in: ["<", ">"])))
            } catch {
                throw RulesLoadError("--from \(text) is not an address: \(error)")
            }
        }
        let clientAddress = try client.map { text in
            guard let parsed = IPAddress(text) else { throw RulesLoadError("--client \(text) is not an IP address") }
            return parsed
        }
        let rules = try RoutingSetup.loadRules(settings)
        let path = RoutingSetup.srsSecretsPath(settings.configuration)
        var notes: [String] = []
        let secrets: [[UInt8]]
        if FileManager.default.fileExists(atPath: path) {
            secrets = try SRSSecrets.load(path: path, create: false)
        } else {
            secrets = [Array("not-yet-made-example-key".utf8)]
            notes.append("note: no SRS secrets yet (\(path)); serve makes them, so SRS hashes here are only examples")
        }
        let router = RoutingSetup.router(settings, rules: rules, secrets: secrets)
        let context = SubmissionContext(clientAddress: clientAddress, authenticatedUser: user, sender: reversePath)
        let resolution = router.resolve(address, for: context)

        var lines: [String] = []
        let who = [
            "from \(reversePath)", clientAddress.map { "client \($0)" } ?? "client unknown",
            user.map { "authenticated as \($0)" } ?? "not authenticated",
        ]
        switch resolution.decision {
        case .accept(let destinations):
            lines.append("RCPT TO:<\(address)> (\(who.joined(separator: ", "))): accepted, 250 2.1.5")
            lines.append("")
            lines += tree(resolution.tree, depth: 1)
            lines.append("")
            lines.append("destinations:")
            for destination in destinations {
                var line = "  \(destination.address) via \(destination.route)"
                if let rule = destination.rule { line += " (rule \(rule))" }
                line += destination.sender.map { ", sender \(reversePath) rewritten to \($0)" } ?? ", sender \(reversePath)"
                lines.append(line)
            }
        case .refuse(let reply):
            lines.append("RCPT TO:<\(address)> (\(who.joined(separator: ", "))): refused, \(reply)")
            lines.append("")
            lines += tree(resolution.tree, depth: 1)
        }
        lines += notes
        if case .accept = resolution.decision {
            return Outcome(accepted: true, report: lines.joined(separator: "\n"))
        }
        return Outcome(accepted: false, report: lines.joined(separator: "\n"))
    }

    private static func tree(_ node: Router.Node, depth: Int) -> [String] {
        let indent = String(repeating: "  ", count: depth)
        var line = "\(indent)\(node.address): \(node.how)"
        if let rule = node.rule { line += " at \(rule)" }
        switch node.result {
        case .destination(let route, let sender):
            line += " → \(route)" + (sender.map { " (sender \($0))" } ?? "")
            return [line]
        case .refused(let reply, let reason):
            return [line + " → refused \(reply.code) \(reply.enhancedCode.map { "\($0)" } ?? ""): \(reason)"]
        case .expanded(let children):
            return [line] + children.flatMap { tree($0, depth: depth + 1) }
        }
    }
}
