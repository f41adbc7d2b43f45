import BenCore
import Glibc

/// A named set of connection settings (like a kubeconfig context or a `nats context`): which fleet, which NATS
/// servers, which operator key signs, which NATS credentials authenticate.
///
/// Contexts are JSON files in `contexts/` under benctl's config folder (`BEN_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/ben`, else `~/.config/ben`); the one in use is named in `context.txt` there. A context holds
/// paths to key and credentials files, never their contents.
struct BenContext: Sendable, Hashable {
    var name: String
    var fleet: String?
    var nats: [String] = []
    var operatorKey: String?
    var credentials: String?
    var description: String?

    static let nameRule = "letters, digits, '.', '_' and '-', starting with a letter or digit"

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIIAlphanumeric, name.count <= 64 else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || $0 == "." || $0 == "_" || $0 == "-" }
    }

    var json: JSONValue {
        var object: [String: JSONValue] = ["name": .string(name), "nats": .array(nats.map { .string($0) })]
        if let fleet { object["fleet"] = .string(fleet) }
        if let operatorKey { object["operator_key"] = .string(operatorKey) }
        if let credentials { object["credentials"] = .string(credentials) }
        if let description { object["description"] = .string(description) }
        return .object(object)
    }

    init(name: String) {
        self.name = name
    }

    init(json: JSONValue, name: String) {
        self.name = name
        fleet = json["fleet"]?.stringValue
        nats = json["nats"]?.arrayValue?.compactMap(\.stringValue) ?? json["nats"]?.stringValue.map { [$0] } ?? []
        operatorKey = json["operator_key"]?.stringValue
        credentials = json["credentials"]?.stringValue
        description = json["description"]?.stringValue
    }
}

/// Reads and writes contexts.
struct ContextStore {
    let directory: String

    /// The config folder from the environment.
    static var standard: ContextStore {
        let env = ProcessEnvironment.self
        if let dir = env.value("BEN_CONFIG_DIR") { return ContextStore(directory: dir) }
        if let xdg = env.value("XDG_CONFIG_HOME") { return ContextStore(directory: xdg + "/ben") }
        return ContextStore(directory: (env.value("HOME") ?? ".") + "/.config/ben")
    }

    var contextsDirectory: String { directory + "/contexts" }
    var selectionFile: String { directory + "/context.txt" }

    func path(of name: String) -> String { contextsDirectory + "/\(name).json" }

    func names() -> [String] {
        guard let dir = opendir(contextsDirectory) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".json") { out.append(String(name.dropLast(5))) }
        }
        return out.sorted()
    }

    func load(_ name: String) throws -> BenContext {
        guard BenContext.isValidName(name) else { throw CommandFailure("'\(name)' is not a context name (\(BenContext.nameRule))") }
        guard let text = try? TextFile.read(path(of: name)) else {
            let known = names()
            let hint = NearestSpelling.suggestion(for: name, among: known).map { "; did you mean \($0)?" } ?? ""
            throw CommandFailure(
                "no context named \(name)\(hint) (\(known.isEmpty ? "none saved yet: `benctl context save NAME …`" : "known: \(known.joined(separator: ", "))"))")
        }
        do {
            return BenContext(json: try JSONParser.parse(text), name: name)
        } catch {
            throw CommandFailure("\(path(of: name)): \(error)")
        }
    }

    func save(_ context: BenContext) throws {
        try makeDirectory(contextsDirectory)
        try TextFile.writeAtomically(try CanonicalJSON.string(context.json) + "\n", to: path(of: context.name), mode: 0o600)
    }

    func remove(_ name: String) throws {
        _ = try load(name)
        guard unlink(path(of: name)) == 0 else { throw CommandFailure("cannot remove \(path(of: name)): \(String(cString: strerror(errno)))") }
        if selected() == name { unlink(selectionFile) }
    }

    /// The context in use: `context.txt`, if it names one.
    func selected() -> String? {
        guard let text = try? TextFile.read(selectionFile) else { return nil }
        let name = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return name.isEmpty ? nil : name
    }

    func select(_ name: String) throws {
        _ = try load(name)
        try makeDirectory(directory)
        try TextFile.writeAtomically(name + "\n", to: selectionFile)
    }

    func makeDirectory(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw CommandFailure("cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The context a command uses: `--context`, else `BEN_CONTEXT`, else the one selected with `context use`
    /// (nil: none).
    func active(named explicit: String?) throws -> BenContext? {
        if let name = explicit ?? ProcessEnvironment.value("BEN_CONTEXT") { return try load(name) }
        guard let name = selected() else { return nil }
        return try load(name)
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIAlphanumeric: Bool {
        (0x30...0x39).contains(value) || (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
    }
}
