import BenTestKit
import BenYAML
import Foundation
import Testing
import Yams

/// Every reader of Ben's YAML files composes through BenYAML, within one budget (issue 15, item 6): alias bombs,
/// deep nesting and complex keys are refused before any reader walks the tree; ordinary files are untouched.
@Suite struct YAMLBudgetTests {
    static let billionLaughs = HostileYAML.billionLaughs()
    static let keyBomb = HostileYAML.keyBomb

    static func exceeded(_ text: String) -> (YAMLBudget.Exceeded, line: Int)? {
        do {
            _ = try YAMLSyntaxError.composeAll(text)
            return nil
        } catch {
            guard case .overBudget(let exceeded) = error.problem else { return nil }
            return (exceeded, error.line)
        }
    }

    @Test func aBillionLaughsIsRefusedBeforeAnyReaderWalksIt() throws {
        let refusal = try #require(Self.exceeded(Self.billionLaughs))
        guard case .aliases(let limit) = refusal.0 else {
            Issue.record("expected too many aliases, got \(refusal.0)")
            return
        }
        #expect(limit == YAMLBudget.standard.maxAliases(textBytes: Self.billionLaughs.utf8.count))
        #expect(refusal.0.description.contains("an alias bomb?"))
        // compose (one document) refuses it the same way.
        #expect(throws: YAMLSyntaxError.self) { try YAMLSyntaxError.compose(Self.billionLaughs) }
    }

    @Test func anAliasBombAsAMappingKeyIsRefusedBeforeYamsComposesIt() throws {
        let refusal = try #require(Self.exceeded(Self.keyBomb))
        #expect(refusal.0 == .complexKey)
        #expect(refusal.line == 11)
    }

    @Test func aWideBombOfFewAliasesIsRefusedByItsValueCount() throws {
        // Few aliases, each naming a big list: the value count catches it.
        let wide = "a: &a [" + Array(repeating: "x", count: 2000).joined(separator: ",") + "]\n"
            + "b: [" + Array(repeating: "*a", count: 60).joined(separator: ",") + "]\n"
        let refusal = try #require(Self.exceeded(wide))
        guard case .nodes = refusal.0 else {
            Issue.record("expected too many values, got \(refusal.0)")
            return
        }
    }

    @Test func aFewAliasesInAHandWrittenFileAreFine() throws {
        let text = """
            defaults: &d {uplink: 10Gbit, max_fan_out: 4}
            racks:
              - {name: r1, settings: *d}
              - {name: r2, settings: *d}
              - {name: r3, settings: *d}

            """
        let root = try #require(try YAMLSyntaxError.compose(text))
        #expect(root["racks"]?[2]?["settings"]?["uplink"]?.string == "10Gbit")
    }

    @Test func nestingDeeperThanTheBudgetIsRefused() throws {
        let limit = YAMLBudget.standard.maxDepth
        #expect(Self.exceeded(HostileYAML.nested(limit)) == nil)
        let refusal = try #require(Self.exceeded(HostileYAML.nested(limit + 1)))
        #expect(refusal.0 == .depth(limit: limit))
        #expect(refusal.0.description == "the YAML nests deeper than \(limit) levels, more than Ben allows; flatten it")
    }

    @Test func aLargeFileWithoutAliasesIsWithinBudget() throws {
        var text = "nodes:\n"
        for i in 0..<20_000 { text += "  - {id: n\(i), roles: [proxy], address: 10.0.0.1:7401}\n" }
        #expect(Self.exceeded(text) == nil)
    }

    @Test(arguments: [
        ("explicit key", "? a\n: b\n", 1),
        ("a list as key", "x: 1\n[a, b]: c\n", 2),
        ("a mapping as key", "{a: b}: c\n", 1),
        ("an alias as key", "x: &a y\n*a : z\n", 2),
        ("a list key inside a flow mapping", "- {[1]: x}\n", 1),
        ("an alias key in a flow mapping", "x: &a y\nz: {*a : 1}\n", 2),
        ("a nested list as key", "top:\n  inner:\n    [a]: b\n", 3),
    ])
    func complexKeysAreFoundWhereverTheyAre(what: String, text: String, line: Int) throws {
        let refusal = try #require(Self.exceeded(text), "\(what)")
        #expect(refusal.0 == .complexKey, "\(what)")
        #expect(refusal.line == line, "\(what)")
    }

    @Test(arguments: [
        "when: \"request.tags[0] == 'a' ? x : y\"\n",
        "when: 'a ? [b]: c'\n",
        "# ? not a key\n# [a]: b\nx: 1\n",
        "description: |\n  Why? Because.\n  ? not a key\n  [a]: b\n  *bold: text\nnext: 1\n",
        "- |\n  ? text\n- >\n  [a]: b\n",
        "note: a plain value\n  ? that continues\n  on more lines\nnext: 2\n",
        "- {id: node-1, roles: [proxy, detector], address: 127.0.0.1:7401, key: ab}\n",
        "expr: request.size * 2 > limit && size < 10\n",
        "x: *emphasis*: text\n",
        "key: \"a \\\" quote [b]: c\"\nother: 'it''s ? fine'\n",
        "ports: [1, 2]\nmap: {a: [1, 2], b: {c: d}}\n",
        "---\nx: 1\n---\ny: [a, b]\n...\n",
    ])
    func textThatOnlyLooksLikeAComplexKeyIsNot(text: String) {
        if let refusal = Self.exceeded(text) {
            #expect(refusal.0 != .complexKey, "\(text.debugDescription) was taken for a complex key at line \(refusal.line)")
        }
    }

    @Test func everyYAMLFileInTheRepositoryIsWithinBudget() throws {
        let root = ProcessRunner.repositoryRoot()
        var checked = 0
        for folder in ["examples", "topology", "Sim/scenarios", "packaging", ".github"] {
            guard let walker = FileManager.default.enumerator(atPath: root + "/" + folder) else { continue }
            for case let path as String in walker where path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
                let text = try String(contentsOfFile: "\(root)/\(folder)/\(path)", encoding: .utf8)
                if let refusal = Self.exceeded(text) {
                    Issue.record("\(folder)/\(path):\(refusal.line): \(refusal.0)")
                }
                checked += 1
            }
        }
        #expect(checked >= 10)
    }
}
