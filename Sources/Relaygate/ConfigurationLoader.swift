import Foundation
import Yams

/// Reads relaygate.yaml into a `RelaygateConfiguration`, turning every problem into an error that names the
/// file, the line and the key.
public enum ConfigurationLoader {
    /// Loads `path`. When the file does not exist, the embedded defaults are used unless `required` (the
    /// operator named the file with --config, so its absence is a mistake).
    public static func load(path: String, required: Bool) throws(ConfigurationError) -> RelaygateConfiguration {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw ConfigurationError(file: path, line: nil, key: nil, message: "file not found") }
            return RelaygateConfiguration()
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(
                file: path, line: nil, key: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> RelaygateConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return RelaygateConfiguration() }
            root = node
        } catch let error as YamlError {
            throw ConfigurationError(file: file, line: line(of: error), key: nil, message: "not valid YAML: \(error)")
        } catch {
            throw ConfigurationError(file: file, line: nil, key: nil, message: "not valid YAML: \(error)")
        }
        guard root.mapping != nil else {
            throw ConfigurationError(
                file: file, line: root.mark?.line, key: nil, message: "expected a mapping of settings")
        }
        do {
            return try YAMLDecoder().decode(RelaygateConfiguration.self, from: root)
        } catch let error as DecodingError {
            let (path, message) = describe(error)
            throw located(file: file, root: root, path: path, message: message)
        } catch {
            throw ConfigurationError(file: file, line: nil, key: nil, message: "\(error)")
        }
    }

    private static func located(file: String, root: Node, path: [any CodingKey], message: String) -> ConfigurationError
    {
        let key = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            .reduce("") { $0.isEmpty || $1.hasPrefix("[") ? $0 + $1 : $0 + "." + $1 }
        return ConfigurationError(
            file: file, line: line(of: path, in: root), key: key.isEmpty ? nil : key, message: message)
    }

    private static func describe(_ error: DecodingError) -> ([any CodingKey], String) {
        switch error {
        case .typeMismatch(let type, let context):
            return (context.codingPath, "expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return (context.codingPath, "expected \(typeName(type)), found nothing")
        case .keyNotFound(let key, let context):
            return (context.codingPath + [key], "missing")
        case .dataCorrupted(let context):
            return (context.codingPath, context.debugDescription)
        @unknown default:
            return ([], "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "a whole number"
        case is String.Type: "text"
        case is [String].Type: "a list"
        default: "\(type)".lowercased()
        }
    }

    /// The line of the deepest node the path reaches.
    private static func line(of path: [any CodingKey], in root: Node) -> Int? {
        var node = root
        var line = root.mark?.line
        for key in path {
            if let index = key.intValue, let sequence = node.sequence, index < sequence.count {
                node = sequence[index]
                line = node.mark?.line ?? line
            } else if let pair = node.mapping?.first(where: { $0.key.string == key.stringValue }) {
                line = pair.key.mark?.line ?? line
                node = pair.value
            } else {
                break
            }
        }
        return line
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }
}

/// A configuration problem, worded as `rules/relaygate.yaml:12: smtp.max_recipients: must be ...`.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String

    public init(file: String, line: Int?, key: String?, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if let key { text += "\(key): " }
        return text + message
    }
}
