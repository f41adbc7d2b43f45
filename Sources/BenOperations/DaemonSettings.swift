import BenCore
public import BenCrypto
import BenYAML
import Configuration
import Foundation
import SystemPackage
import Yams

/// A daemon's settings from its flags and its config file (apple/swift-configuration): a flag given on the command
/// line wins, then the file, then the default the daemon applies (docs/operations.md, "Config files").
///
/// The file is YAML, or JSON if its name ends in `.json`: one top-level key per flag, spelt with underscores
/// (`--seed-listen` is `seed_listen`); a list flag takes a list or a comma-separated string. A key the daemon does
/// not know is an error that names the nearest known key, so a typo never silently falls back to a default.
public struct DaemonSettings: Sendable {
    /// The config file, if one was given.
    public let file: String?
    let reader: ConfigReader

    /// A flag's value, as parsed.
    public enum Flag: Sendable {
        case string(String)
        case list([String])
        case int(Int)
    }

    /// Reads `file` (if given) and layers `flags` over it. `known` lists every key the daemon reads.
    public static func load(file: String?, flags: [String: Flag], known: [String]) async throws(OperationsError) -> DaemonSettings {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, flag) in flags {
            let content: ConfigContent =
                switch flag {
                case .string(let s): .string(s)
                case .list(let l): .stringArray(l)
                case .int(let i): .int(i)
                }
            values[AbsoluteConfigKey([key])] = ConfigValue(content, isSecret: false)
        }
        var providers: [any ConfigProvider] = [InMemoryProvider(name: "flags", values: values)]
        if let file {
            try checkKeys(of: file, known: known)
            do {
                if file.hasSuffix(".json") {
                    providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
                } else {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
                }
            } catch {
                throw .config(file: file, key: nil, detail: "\(error)")
            }
        }
        return DaemonSettings(file: file, reader: ConfigReader(providers: providers))
    }

    /// The top-level keys of the file must all be known: anything else is most likely a typo.
    static func checkKeys(of file: String, known: [String]) throws(OperationsError) {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw .config(file: file, key: nil, detail: "cannot read it: \(error.localizedDescription)")
        }
        let root: Node?
        do {
            // Within Ben's YAML budget: swift-configuration reads the file next, expanding every alias.
            root = try YAMLSyntaxError.compose(text)
        } catch {
            if case .overBudget(let exceeded) = error.problem {
                throw .config(file: file, key: nil, detail: "line \(error.line): \(exceeded)")
            }
            throw .config(file: file, key: nil, detail: "not YAML or JSON: \(error.text)")
        }
        guard let root else { return }
        guard let mapping = root.mapping else { throw .config(file: file, key: nil, detail: "expected a mapping of keys to values") }
        for key in mapping.keys.compactMap(\.string) where !known.contains(key) {
            let hint = NearestSpelling.suggestion(for: key, among: known).map { " (did you mean \($0)?)" } ?? ""
            throw .config(file: file, key: key, detail: "unknown key\(hint); known keys: \(known.joined(separator: ", "))")
        }
    }

    /// A scalar setting as text (a number or boolean in a JSON file reads as its text).
    public func string(_ key: String) -> String? {
        let configKey = ConfigKey(key)
        if let s = reader.string(forKey: configKey) { return s }
        if let i = reader.int(forKey: configKey) { return "\(i)" }
        if let d = reader.double(forKey: configKey) { return "\(d)" }
        if let b = reader.bool(forKey: configKey) { return "\(b)" }
        return nil
    }

    /// A list setting: a list, or one comma-separated string.
    public func list(_ key: String) -> [String]? {
        if let list = reader.stringArray(forKey: ConfigKey(key)) { return list }
        return string(key).map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }.filter { !$0.isEmpty } }
    }

    /// A setting the daemon cannot run without.
    public func required(_ key: String) throws(OperationsError) -> String {
        guard let value = string(key), !value.isEmpty else { throw .missing(key: key, file: file) }
        return value
    }

    /// A whole number of seconds (or any integer), with the default when unset.
    public func int(_ key: String, default value: Int) throws(OperationsError) -> Int {
        guard let text = string(key) else { return value }
        guard let n = Int(text) else { throw .invalid(key: key, file: file, value: text, expected: "a whole number") }
        return n
    }
}

/// What went wrong starting an operations feature, in the operator's terms; `description` is the line printed.
public enum OperationsError: Error, Sendable, CustomStringConvertible {
    case config(file: String, key: String?, detail: String)
    case missing(key: String, file: String?)
    case invalid(key: String, file: String?, value: String, expected: String)
    /// A key file (`--key`, or a file given for `--ledger-key` or `--operator-key`) cannot be used. Not a usage
    /// error: the daemon prints this one line and exits 1.
    case keyFile(option: String, KeyFileError)

    public var description: String {
        switch self {
        case .config(let file, let key, let detail):
            FileLocation(file: file, field: key ?? "").describe(detail)
        case .missing(let key, let file):
            "--\(key.flagName) is required: pass it, or set \(key) in \(file ?? "a config file (--config FILE)")"
        case .invalid(let key, let file, let value, let expected):
            "\(file.map { "\($0): \(key)" } ?? "--\(key.flagName)"): '\(value)' is not \(expected)"
        case .keyFile(let option, let error):
            "\(option) \(error)"
        }
    }
}

extension String {
    /// `seed_listen` → `seed-listen`.
    var flagName: String { replacingOccurrences(of: "_", with: "-") }

    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
