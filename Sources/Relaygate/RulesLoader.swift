import Foundation
import MailModel
import Routing

/// Reads the rules directory: every `*.rules` file in it, in name order (so `10-shop.rules` comes before
/// `20-routes.rules`), into one validated `RuleSet`. A missing directory is an empty set (no domains of
/// ours; only authorized clients may relay) unless it is `required`: one named with `--rules`, where a typo
/// would otherwise run a server that refuses all mail for your domains.
public enum RulesLoader {
    public struct Files: Sendable, Equatable {
        public var directory: String
        /// (path as errors show it, text), in name order.
        public var contents: [RulesFile]
    }

    public struct RulesFile: Sendable, Equatable {
        public var path: String
        public var text: String
    }

    public static func read(directory: String, required: Bool = false) throws -> Files {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch CocoaError.fileReadNoSuchFile {
            guard !required else {
                throw RulesLoadError(
                    "the rules directory \(directory) (--rules) does not exist; check the path, or create it with your "
                        + "*.rules files")
            }
            return Files(directory: directory, contents: [])
        } catch {
            throw RulesLoadError("cannot read the rules directory \(directory): \(error.localizedDescription)")
        }
        var contents: [RulesFile] = []
        for name in names.filter({ $0.hasSuffix(".rules") && !$0.hasPrefix(".") }).sorted() {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else {
                throw RulesLoadError("cannot read \(path)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw RulesLoadError("\(path) is not UTF-8 text")
            }
            contents.append(RulesFile(path: path, text: text))
        }
        return Files(directory: directory, contents: contents)
    }

    public static func load(directory: String, required: Bool = false, upstreams: Set<String>) throws -> RuleSet {
        let files = try read(directory: directory, required: required)
        return try RuleSet.build(files: files.contents.map { ($0.path, $0.text) }, upstreams: upstreams)
    }

    /// What changes when a rules file is edited, added or removed: names, sizes and modification times.
    public static func fingerprint(directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".rules") }.sorted().map { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name) \(size) \(modified)"
        }
    }
}

public struct RulesLoadError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
