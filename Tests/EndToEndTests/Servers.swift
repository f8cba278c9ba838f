import Foundation

/// Runs `body` with a fresh server and always stops it (and removes its directory) afterwards.
func withServer<T>(
    config: String? = nil, users: [String: String] = [:], rules: [String: String] = [:], delivery: Bool = false,
    _ body: (ServerProcess) async throws -> T
) async throws -> T {
    let server = try await ServerProcess(config: config, users: users, rules: rules, delivery: delivery)
    do {
        let result = try await body(server)
        await server.stop()
        server.removeDirectory()
        return result
    } catch {
        await server.stop()
        server.removeDirectory()
        throw error
    }
}

/// relaygate.yaml for a set of `smtp:` settings (as transcripts write them).
func smtpConfig(_ settings: [String: String]) -> String? {
    guard !settings.isEmpty else { return nil }
    var yaml = "smtp:\n"
    for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
        if key == "relay_networks" {
            yaml += "  \(key): [" + value.split(separator: ",").map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
        } else {
            yaml += "  \(key): \(value)\n"
        }
    }
    return yaml
}
