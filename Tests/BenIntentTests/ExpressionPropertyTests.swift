import BenIntent
import BenTestKit
import Testing

/// Seeded random expressions: the normal form parses back to itself and evaluates to the same result, and
/// random text never crashes the lexer or parser. The seed is in the failure message.
@Suite struct ExpressionPropertyTests {
    static func expression(_ g: inout SeededGenerator, depth: Int) -> String {
        let leaves = ["1", "-2", "3u", "2.5", "'a'", "\"b\"", "true", "false", "null", "[1, 2]", "{'k': 1}", "x", "x.n", "x.s"]
        if depth == 0 { return leaves[Int(g.next() % UInt64(leaves.count))] }
        let a = expression(&g, depth: depth - 1)
        let b = expression(&g, depth: depth - 1)
        switch g.next() % 12 {
        case 0: return "\(a) + \(b)"
        case 1: return "(\(a)) * (\(b))"
        case 2: return "\(a) == \(b)"
        case 3: return "\(a) < \(b)"
        case 4: return "\(a) && \(b)"
        case 5: return "!(\(a)) || \(b)"
        case 6: return "(\(a) ? \(b) : \(a))"
        case 7: return "[\(a), \(b)].exists(e, e == \(a))"
        case 8: return "size(\(a))"
        case 9: return "\(a) in [\(b)]"
        case 10: return "-(\(a))"
        default: return "\(a) - (\(b) - \(a))"
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func normalFormRoundTripsAndEvaluatesAlike(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let environment = CELEnvironment(variables: [.init("x", .dyn)], checked: false)
        let x = CELValue.map(CELMap([(.string("n"), .int(4)), (.string("s"), .string("hi"))]))
        for i in 0..<300 {
            let text = Self.expression(&g, depth: 3)
            let parsed = try CELParser.parse(text)
            let printed = CELPrinter.print(parsed)
            let reparsed = try CELParser.parse(printed)
            #expect(CELPrinter.print(reparsed) == printed, "seed \(seed) case \(i): \(text)")
            let a = try CELProgram.compile(parsed, environment: environment).evaluate([x])
            let b = try CELProgram.compile(reparsed, environment: environment).evaluate([x])
            #expect(String(describing: a) == String(describing: b), "seed \(seed) case \(i): \(text) vs \(printed)")
        }
    }

    @Test(arguments: [7, 8] as [UInt64])
    func randomTextNeverCrashesTheParser(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        let alphabet = Array("ab1u.()[]{}!-+*/%<>=&|?:'\"\\ ,`xrb\n\t0eE")
        var parsed = 0
        for _ in 0..<3000 {
            let length = Int(g.next() % 24)
            let text = String((0..<length).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
            if (try? CELParser.parse(text)) != nil { parsed += 1 }
            _ = try? LinearRegex(text)
        }
        #expect(parsed < 3000, "seed \(seed): most random text is not an expression")
    }
}
