import BenIntent
import Testing

@testable import ben_conformance

/// The text-format reader the conformance runner relies on.
@Suite struct TextProtoTests {
    @Test func readsNestedMessagesScalarsListsAndComments() throws {
        let text = """
            # a comment
            name: "basic"
            section {
              name: 'sec'  # trailing comment
              test {
                name: "t1"
                expr: "1 + 1"
                value: { int64_value: -2 }
                disable_check: true
              }
              test <
                name: "t2", expr: "x"
                type_env: { name: "x" ident: { type: { primitive: INT64 } } }
              >
            }
            tags: ["a", "b"]
            """
        let m = try TextProtoParser.parse(text)
        #expect(m.string("name") == "basic")
        let section = try #require(m.message("section"))
        #expect(section.string("name") == "sec")
        let tests = section.messages("test")
        #expect(tests.count == 2)
        #expect(tests[0].message("value")?.first("int64_value")?.word == "-2")
        #expect(tests[0].bool("disable_check"))
        #expect(tests[1].string("expr") == "x")
        #expect(tests[1].message("type_env")?.message("ident")?.message("type")?.first("primitive")?.word == "INT64")
        #expect(m.values("tags").compactMap(\.text) == ["a", "b"])
    }

    static let escapes: [(String, [UInt8])] = [
        (#""a\nb""#, [0x61, 0x0A, 0x62]),
        (#""\x41\101\"""#, [0x41, 0x41, 0x22]),
        (#"'\303\277'"#, [0xC3, 0xBF]),
        (#""\u00ff""#, [0xC3, 0xBF]),
        (#""\U0001F431""#, [0xF0, 0x9F, 0x90, 0xB1]),
        (#""\\\'""#, [0x5C, 0x27]),
        (#""ab" 'cd'"#, [0x61, 0x62, 0x63, 0x64]),
        (#""\000\xff""#, [0x00, 0xFF]),
    ]

    @Test(arguments: escapes)
    func decodesStringEscapesToBytes(_ literal: String, _ bytes: [UInt8]) throws {
        let m = try TextProtoParser.parse("v: \(literal)")
        guard case .bytes(let got)? = m.first("v") else {
            Issue.record("no bytes for \(literal)")
            return
        }
        #expect(got == bytes)
    }

    @Test func reportsWhereTheTextIsMalformed() {
        do {
            _ = try TextProtoParser.parse("a {\n  b: \"unterminated\n}")
            Issue.record("accepted an unterminated string")
        } catch {
            #expect(error.line == 2)
        }
    }

    @Test func extensionNamesAndAnyPayloadsAreKeptAsFields() throws {
        let m = try TextProtoParser.parse("object_value { [type.googleapis.com/x.Y] { a: 1 } }")
        #expect(m.message("object_value")?.fields.first?.name == "[type.googleapis.com/x.Y]")
    }

    @Test func aCaseRunsAgainstTheEngineAndNamesSkippedFeatures() throws {
        let pass = try TextProtoParser.parse(#"name: "p" expr: "x + 1" type_env { name: "x" ident { type { primitive: INT64 } } } bindings { key: "x" value { value { int64_value: 41 } } } value { int64_value: 42 }"#)
        #expect(ConformanceCase(section: "s", message: pass).run() == .pass)
        let fail = try TextProtoParser.parse(#"name: "f" expr: "1 + 1" value { int64_value: 3 }"#)
        #expect(ConformanceCase(section: "s", message: fail).run() == .fail("expected 3, got 2"))
        let error = try TextProtoParser.parse(#"name: "e" expr: "1 / 0" eval_error { errors { message: "divide by zero" } }"#)
        #expect(ConformanceCase(section: "s", message: error).run() == .pass)
        let proto = try TextProtoParser.parse(#"name: "m" container: "cel.expr.conformance.proto3" expr: "TestAllTypes{}" "#)
        #expect(ConformanceCase(section: "s", message: proto).run() == .skip("protobuf messages"))
    }
}
