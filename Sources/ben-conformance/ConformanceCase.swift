import BenIntent

/// One cel-spec simple test, read from its text-format message.
struct ConformanceCase {
    enum Expectation {
        case value(CELValue)
        case error
    }

    enum Outcome: Equatable {
        case pass
        case fail(String)
        /// The feature outside Ben's expression subset that the case needs.
        case skip(String)
    }

    var section: String
    var name: String
    var expression: String
    var checked: Bool
    var message: TextProtoMessage

    init(section: String, message: TextProtoMessage) {
        self.section = section
        self.message = message
        name = message.string("name") ?? "?"
        expression = message.string("expr") ?? ""
        checked = !message.bool("disable_check")
    }

    /// Features a case may need that Ben's subset leaves out; the first that applies names the skip.
    func unsupportedFeature() -> String? {
        let text = expression
        if message.string("container").map({ !$0.isEmpty }) == true || text.contains("TestAllTypes")
            || text.contains("proto2") || text.contains("proto3")
        {
            return "protobuf messages"
        }
        if text.contains("google.protobuf.") && !text.contains("google.protobuf.Timestamp") && !text.contains("google.protobuf.Duration") {
            return "protobuf wrapper and JSON types (google.protobuf.*)"
        }
        if text.contains(".?") || text.contains("?.") || text.contains("optional.") { return "optional values" }
        if message.bool("disable_macros") { return "macro-free parsing" }
        if message.has("unknown") || message.has("any_unknowns") { return "unknown sets (partial evaluation)" }
        if message.bool("check_only") { return "check-only cases (deduced types)" }
        if message.has("typed_result") { return "deduced result types" }
        for decl in message.messages("type_env") {
            if decl.has("function") { return "user-declared functions" }
            if let type = decl.message("ident")?.message("type"), Self.type(type) == nil { return "protobuf messages" }
        }
        if let value = message.message("value"), Self.needsProtobuf(value) { return "protobuf messages" }
        return nil
    }

    static func needsProtobuf(_ value: TextProtoMessage) -> Bool {
        if value.has("object_value") || value.has("enum_value") { return true }
        for list in value.messages("list_value") { for v in list.messages("values") where needsProtobuf(v) { return true } }
        for map in value.messages("map_value") {
            for entry in map.messages("entries") {
                if let k = entry.message("key"), needsProtobuf(k) { return true }
                if let v = entry.message("value"), needsProtobuf(v) { return true }
            }
        }
        return false
    }

    static func type(_ t: TextProtoMessage) -> CELType? {
        if let p = t.first("primitive")?.word {
            switch p {
            case "BOOL": return .bool
            case "INT64": return .int
            case "UINT64": return .uint
            case "DOUBLE": return .double
            case "STRING": return .string
            case "BYTES": return .bytes
            default: return nil
            }
        }
        if let list = t.message("list_type") { return list.message("elem_type").flatMap(type).map { .list($0) } }
        if let map = t.message("map_type") {
            guard let k = map.message("key_type").flatMap(type), let v = map.message("value_type").flatMap(type) else { return nil }
            return .map(k, v)
        }
        if t.has("dyn") { return .dyn }
        if t.has("null") { return .null }
        if let wellKnown = t.first("well_known")?.word {
            switch wellKnown {
            case "TIMESTAMP": return .timestamp
            case "DURATION": return .duration
            default: return nil
            }
        }
        return nil
    }

    static func value(_ v: TextProtoMessage) -> CELValue? {
        if let w = v.first("null_value") { _ = w; return .null }
        if let w = v.first("bool_value")?.word { return .bool(w == "true") }
        if let w = v.first("int64_value")?.word { return Int64(w).map { .int($0) } }
        if let w = v.first("uint64_value")?.word { return UInt64(w).map { .uint($0) } }
        if let w = v.first("double_value")?.word {
            switch w.lowercased() {
            case "inf", "infinity": return .double(.infinity)
            case "-inf", "-infinity": return .double(-.infinity)
            case "nan": return .double(.nan)
            default: return Double(w).map { .double($0) }
            }
        }
        if case .bytes(let b)? = v.first("string_value") { return .string(String(decoding: b, as: UTF8.self)) }
        if case .bytes(let b)? = v.first("bytes_value") { return .bytes(b) }
        if let name = v.string("type_value") { return .type(CELTypeName(name)) }
        if v.has("list_value") {
            let list = v.message("list_value") ?? TextProtoMessage()
            var out: [CELValue] = []
            for item in list.messages("values") {
                guard let x = value(item) else { return nil }
                out.append(x)
            }
            return .list(out)
        }
        if v.has("map_value") {
            let map = v.message("map_value") ?? TextProtoMessage()
            var out = CELMap()
            for entry in map.messages("entries") {
                guard let k = entry.message("key").flatMap(value), let key = CELMapKey(k),
                    let x = entry.message("value").flatMap(value)
                else { return nil }
                out[key] = x
            }
            return .map(out)
        }
        return nil
    }

    func expectation() -> Expectation? {
        if let v = message.message("value") { return Self.value(v).map { .value($0) } }
        if message.has("eval_error") || message.has("any_eval_errors") { return .error }
        // A case with no matcher expects true (cel-spec's default).
        return .value(.bool(true))
    }

    func run() -> Outcome {
        if let feature = unsupportedFeature() { return .skip(feature) }
        guard let expected = expectation() else { return .skip("protobuf messages") }
        var variables: [CELEnvironment.Variable] = []
        for decl in message.messages("type_env") {
            guard let name = decl.string("name"), let t = decl.message("ident")?.message("type"), let type = Self.type(t) else {
                continue
            }
            variables.append(.init(name, type))
        }
        var bound: [String: CELValue] = [:]
        for entry in message.messages("bindings") {
            guard let key = entry.string("key") else { continue }
            guard let v = entry.message("value")?.message("value"), let value = Self.value(v) else {
                return .skip("protobuf messages")
            }
            bound[key] = value
            if !variables.contains(where: { $0.name == key }) {
                // An unchecked case may bind names it never declares.
                variables.append(.init(key, .dyn))
            }
        }
        let program: CELProgram
        do {
            program = try CELProgram.compile(expression, environment: CELEnvironment(variables: variables, checked: checked))
        } catch {
            return .fail("compile: " + error.diagnostics.map { "at \($0.offset): \($0.message)" }.joined(separator: "; "))
        }
        let inputs = variables.map { bound[$0.name] ?? .null }
        let result = program.evaluate(inputs)
        switch (expected, result) {
        case (.error, .failure): return .pass
        case (.error, .success(let v)): return .fail("expected an error, got \(Self.show(v))")
        case (.value(let want), .success(let got)):
            return Self.same(want, got) ? .pass : .fail("expected \(Self.show(want)), got \(Self.show(got))")
        case (.value(let want), .failure(let e)): return .fail("expected \(Self.show(want)), got error: \(e.message)")
        }
    }

    /// Strict equality for checking results: the kinds must match too (1 is not 1u), NaN equals NaN.
    static func same(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.string(let x), .string(let y)): return Array(x.utf8) == Array(y.utf8)
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.type(let x), .type(let y)): return x == y
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.map(let x), .map(let y)):
            guard x.count == y.count else { return false }
            for (k, v) in x.entries {
                guard let w = y[k], same(v, w) else { return false }
            }
            return true
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        default: return false
        }
    }

    static func show(_ v: CELValue) -> String {
        switch v {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .uint(let u): "\(u)u"
        case .double(let d): "\(d)"
        case .string(let s): String(reflecting: s)
        case .bytes(let b): "b\(b)"
        case .type(let t): "type(\(t.name))"
        case .list(let l): "[" + l.map(show).joined(separator: ", ") + "]"
        case .map(let m): "{" + m.entries.map { "\(show($0.key.value)): \(show($0.value))" }.joined(separator: ", ") + "}"
        case .record: "record"
        case .timestamp(let t): "timestamp(\(t.seconds))"
        case .duration(let d): "duration(\(d.seconds)s)"
        }
    }
}
