import BenIntent
import BenTestKit
import Testing

/// Validation errors name the file, line, column and field, all of them in one run, sorted.
@Suite struct IntentValidationTests {
    static let schema = """
        kind: schema
        name: http_request
        version: 1
        fields:
          method: {type: string, required: true}
          port: {type: int, required: true}
          path: string

        """

    static func errors(_ files: [(String, String)]) -> [IntentError] {
        switch IntentCompiler.build(files.map { IntentSourceFile(path: $0.0, text: $0.1) }) {
        case .success: return []
        case .failure(let e): return e.errors
        }
    }

    static func pack(_ when: String, extra: String = "") -> String {
        """
        kind: policy_pack
        name: edge
        roles: [proxy]
        input: http_request@1
        rules:
          - name: r1
            when: \(when)
            action: deny\(extra)
        default: allow

        """
    }

    @Test func comparingAnIntFieldWithAStringNamesBothTypesAndTheColumn() {
        let errors = Self.errors([("s.yaml", Self.schema), ("p.yaml", Self.pack("request.port > \"80\""))])
        #expect(errors.count == 1)
        let e = errors.first
        #expect(e?.file == "p.yaml")
        #expect(e?.line == 7)
        // `    when: ` is 10 characters, so the expression starts at column 11 and '>' stands at column 24.
        #expect(e?.column == 24)
        #expect(e?.field == "rules[0].when")
        #expect(e?.code == .expressionType)
        #expect(e?.message.contains("int with string") == true)
        #expect(e?.description == "p.yaml:7:24: rules[0].when: '>' compares int with string; compare values of the same type (write 80, not \"80\")")
    }

    @Test func anErrorInsideABlockExpressionPointsAtItsOwnLine() {
        let when = "|\n      request.method == \"GET\" &&\n        request.prot == 80"
        let errors = Self.errors([("s.yaml", Self.schema), ("p.yaml", Self.pack(when))])
        #expect(errors.map(\.description) == [
            "p.yaml:9:16: rules[0].when: http_request@1 has no field 'prot'; its fields are method, path, port"
        ])
    }

    @Test func aSyntaxErrorInAnExpressionHasItsColumn() {
        let errors = Self.errors([("s.yaml", Self.schema), ("p.yaml", Self.pack("request.port = 80"))])
        #expect(errors.map(\.description) == [
            "p.yaml:7:24: rules[0].when: syntax error: '=' is not an operator; use '==' to compare"
        ])
    }

    @Test func yamlSyntaxErrorsHaveTheirPosition() {
        let errors = Self.errors([("s.yaml", Self.schema), ("bad.yaml", "kind: schema\nname: [unclosed\n")])
        #expect(errors.count == 1)
        #expect(errors.first?.file == "bad.yaml")
        #expect(errors.first?.code == .yamlSyntax)
        #expect(errors.first?.line == 3)
    }

    @Test(arguments: [
        ("an alias bomb", HostileYAML.billionLaughs(), 4, "alias bomb?"),
        ("an alias key", HostileYAML.keyBomb, 11, "a mapping key here is a list, a mapping or an alias"),
        ("deep nesting", "kind: schema\nname: " + HostileYAML.nested(100), 2, "nests deeper than 64 levels"),
    ])
    func aHostileIntentFileIsOneYAMLError(what: String, text: String, line: Int, mentions: String) {
        let errors = Self.errors([("s.yaml", Self.schema), ("bomb.yaml", text)])
        #expect(errors.count == 1, "\(what): \(errors)")
        #expect(errors.first?.code == .yamlSyntax)
        #expect(errors.first?.file == "bomb.yaml")
        #expect(errors.first?.line == line, "\(what)")
        #expect(errors.first?.description.contains(mentions) == true, "\(what): \(errors)")
    }

    @Test func unknownKeysAreReportedAtTheKey() {
        let errors = Self.errors([("s.yaml", Self.schema), ("p.yaml", Self.pack("true", extra: "\n    colour: blue"))])
        #expect(errors.map(\.description) == [
            "p.yaml:9:5: rules[0].colour: unknown key `colour`; expected one of action, description, name, when"
        ])
    }

    @Test func unknownSchemasAndFieldsAreNamed() {
        let pack = Self.pack("request.prot == 1").replacingOccurrences(of: "http_request@1", with: "http_request@3")
        let errors = Self.errors([("s.yaml", Self.schema), ("p.yaml", pack)])
        #expect(errors.map(\.description) == [
            "p.yaml:4:8: input: unknown schema http_request@3; http_request has versions 1"
        ])
    }

    @Test func duplicateNamesAreErrors() {
        let errors = Self.errors([
            ("a.yaml", Self.schema), ("b.yaml", Self.schema), ("p.yaml", Self.pack("true")), ("q.yaml", Self.pack("false")),
        ])
        #expect(errors.map(\.description) == [
            "b.yaml:3:10: version: http_request@1 is already declared at a.yaml:1; give this one a new version",
            "q.yaml:2:7: name: policy_pack \"edge\" is already declared at p.yaml:2; names must be unique",
        ])
    }

    @Test func backwardCompatibilityRefusesRemovingARequiredFieldAndNamesBothVersions() {
        let v2 = """
            kind: schema
            name: http_request
            version: 2
            compatibility: backward
            fields:
              method: {type: string, required: true}
              path: string

            """
        let errors = Self.errors([("s1.yaml", Self.schema), ("s2.yaml", v2)])
        #expect(errors.count == 1)
        #expect(errors.first?.code == .incompatibleChange)
        #expect(errors.first?.file == "s2.yaml")
        #expect(errors.first?.field == "fields")
        #expect(errors.first?.message.contains("removes required field `port`") == true)
        #expect(errors.first?.message.contains("http_request@1") == true)
        #expect(errors.first?.message.contains("http_request@2") == true)
        // The same change under compatibility: none is accepted.
        #expect(Self.errors([("s1.yaml", Self.schema), ("s2.yaml", v2.replacingOccurrences(of: "backward", with: "none"))]).isEmpty)
    }

    @Test func forwardCompatibilityRefusesANewRequiredFieldWithoutDefault() {
        let v2 = """
            kind: schema
            name: http_request
            version: 2
            compatibility: forward
            fields:
              method: {type: string, required: true}
              port: {type: int, required: true}
              tenant: {type: string, required: true}

            """
        let errors = Self.errors([("s1.yaml", Self.schema), ("s2.yaml", v2)])
        #expect(errors.map(\.description) == [
            "s2.yaml:8:11: fields.tenant: new field `tenant` is required in http_request@2, but records of http_request@1 do not have it; under forward compatibility give it a default"
        ])
    }

    @Test func aContractMustCoverEveryRequiredFieldOfItsTarget() {
        let v2 = """
            kind: schema
            name: http_request
            version: 2
            compatibility: none
            fields:
              verb: {type: string, required: true}
              port: {type: int, required: true}
              tenant: {type: string, required: true}

            """
        let contract = """
            kind: contract
            name: http_v1_v2
            schema: http_request
            from: 1
            to: 2
            compatibility: none
            steps:
              - rename: {from: method, to: verb}
              - drop: path

            """
        let errors = Self.errors([("s1.yaml", Self.schema), ("s2.yaml", v2), ("c.yaml", contract)])
        #expect(errors.map(\.description) == [
            "c.yaml:1:1: steps: http_request@2 requires `tenant` and this contract does not provide it; add a rename, default or compute step for it"
        ])
        let fixed = contract + "  - default: {field: tenant, value: acme}\n"
        #expect(Self.errors([("s1.yaml", Self.schema), ("s2.yaml", v2), ("c.yaml", fixed)]).isEmpty)
        let wrongType = contract + "  - default: {field: tenant, value: [1]}\n"
        #expect(Self.errors([("s1.yaml", Self.schema), ("s2.yaml", v2), ("c.yaml", wrongType)]).map(\.code).contains(.wrongType))
    }

    @Test func everyProblemOfOneRunIsReportedSortedByFileLineAndColumn() {
        let errors = Self.errors([
            ("z.yaml", Self.pack("request.nope")),
            ("s.yaml", Self.schema + "colour: red\n"),
            ("a.yaml", "kind: widget\n"),
        ])
        #expect(errors.map(\.file) == ["a.yaml", "s.yaml", "z.yaml"])
        #expect(errors == errors.sorted())
        #expect(errors.count == 3)
    }

    @Test func aDefaultMustFitItsType() {
        let schema = Self.schema.replacingOccurrences(of: "path: string", with: "path: {type: int, default: \"x\"}")
        #expect(Self.errors([("s.yaml", schema)]).map(\.description) == [
            "s.yaml:7:30: fields.path.default: expected int, found a quoted string; remove the quotes"
        ])
    }
}

extension IntentValidationTests {
    @Test func aKeyWrittenTwiceInOneMappingIsAYAMLError() {
        let text = "kind: schema\nname: a\nname: b\nversion: 1\nfields:\n  x: int\n"
        let errors = Self.errors([("d.yaml", text)])
        #expect(errors.count == 1)
        #expect(errors.first?.code == .yamlSyntax)
        #expect(errors.first?.line == 2)
        #expect(errors.first?.message.contains("\"name\" appears twice") == true)
    }

    @Test func defaultsJSONCannotCarryAreRefusedNotCrashed() {
        let schema = Self.schema.replacingOccurrences(of: "path: string", with: "path: {type: int, default: 9007199254740993}")
        #expect(Self.errors([("s.yaml", schema)]).map(\.description) == [
            "s.yaml:7:30: fields.path.default: integers beyond ±2^53 cannot be carried exactly in a bundle; use a smaller value"
        ])
        let double = Self.schema.replacingOccurrences(of: "path: string", with: "path: {type: double, default: 1e999}")
        #expect(Self.errors([("s.yaml", double)]).first?.code == .wrongType)
    }
}
