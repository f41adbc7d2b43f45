import BenIntent
import Testing

/// The expression engine, case by case: each row is an expression and the value (or error) it must give.
@Suite struct CELEngineTests {
    static func eval(_ text: String, _ variables: [CELEnvironment.Variable] = [], _ values: [CELValue] = [], checked: Bool = true)
        -> Result<CELValue, EvaluationError>
    {
        do {
            let program = try CELProgram.compile(text, environment: CELEnvironment(variables: variables, checked: checked))
            return program.evaluate(values)
        } catch {
            return .failure(EvaluationError(.invalidArgument, "compile: \(error.diagnostics.map(\.message))"))
        }
    }

    static let valueCases: [(String, CELValue)] = [
        ("1 + 2 * 3", .int(7)),
        ("(1 + 2) * 3", .int(9)),
        ("7 / 2", .int(3)),
        ("-7 % 3", .int(-1)),
        ("2u + 3u", .uint(5)),
        ("1.5 * 2.0", .double(3)),
        ("'ab' + 'cd'", .string("abcd")),
        ("b'ab' + b'c'", .bytes([97, 98, 99])),
        ("[1, 2] + [3]", .list([.int(1), .int(2), .int(3)])),
        ("-9223372036854775808", .int(.min)),
        ("0x1F", .int(31)),
        ("1 < 2 && 'a' < 'b'", .bool(true)),
        ("dyn(1) == 1.0 || false", .bool(true)),
        ("dyn(1u) == 1", .bool(true)),
        ("2 in [1, 2, 3]", .bool(true)),
        ("'k' in {'k': 1}", .bool(true)),
        ("true ? 'yes' : 'no'", .string("yes")),
        ("size('héllo')", .int(5)),
        ("size([1, 2, 3])", .int(3)),
        ("'hello'.size()", .int(5)),
        ("'foobar'.startsWith('foo') && 'foobar'.endsWith('bar') && 'foobar'.contains('oba')", .bool(true)),
        ("'abc123'.matches('^[a-z]+[0-9]{3}$')", .bool(true)),
        ("'ABC'.matches('(?i)^abc$')", .bool(true)),
        ("int('42') + int(2.9) + int(3u)", .int(47)),
        ("uint(7)", .uint(7)),
        ("double(1) / 4.0", .double(0.25)),
        ("string(12) + string(true)", .string("12true")),
        ("type(1) == int && type('a') == string", .bool(true)),
        ("[1, 2, 3].all(x, x > 0)", .bool(true)),
        ("[1, 2, 3].exists(x, x == 2)", .bool(true)),
        ("[1, 2, 3].exists_one(x, x > 1)", .bool(false)),
        ("[1, 2, 3].map(x, x * 10)", .list([.int(10), .int(20), .int(30)])),
        ("[1, 2, 3, 4].map(x, x % 2 == 0, x)", .list([.int(2), .int(4)])),
        ("[1, 2, 3].filter(x, x != 2)", .list([.int(1), .int(3)])),
        ("{'a': 1, 'b': 2}.all(k, k.size() == 1)", .bool(true)),
        ("has({'a': 1}.a) && !has({'a': 1}.b)", .bool(true)),
        ("{'a': {'b': [10, 20]}}.a.b[1]", .int(20)),
        ("timestamp('2026-01-02T03:04:05Z') < timestamp('2026-01-02T03:04:06Z')", .bool(true)),
        ("int(timestamp('1970-01-02T00:00:00Z'))", .int(86400)),
        ("timestamp('2026-01-01T00:00:00Z') + duration('1h') > timestamp('2026-01-01T00:59:59Z')", .bool(true)),
        // Error absorption: the side that decides wins over the side that fails.
        ("false && 1 / 0 == 1", .bool(false)),
        ("1 / 0 == 1 && false", .bool(false)),
        ("true || 1 / 0 == 1", .bool(true)),
        ("1 / 0 == 1 || true", .bool(true)),
        ("[1, 0].exists(x, 1 / x == 1)", .bool(true)),
        ("[0, 1].all(x, 1 / x == 5)", .bool(false)),
    ]

    @Test(arguments: valueCases)
    func expressionGivesValue(_ text: String, _ expected: CELValue) {
        let result = Self.eval(text)
        guard case .success(let v) = result else {
            Issue.record("\(text): \(result)")
            return
        }
        #expect(Self.same(v, expected), "\(text) gave \(v)")
    }

    static let errorCases: [(String, EvaluationError.Code)] = [
        ("9223372036854775807 + 1", .overflow),
        ("-9223372036854775808 - 1", .overflow),
        ("5000000000 * 5000000000", .overflow),
        ("0u - 1u", .overflow),
        ("-(-9223372036854775808)", .overflow),
        ("(-9223372036854775808) / -1", .overflow),
        ("1 / 0", .divisionByZero),
        ("1 % 0", .moduloByZero),
        ("[1][1]", .invalidArgument),
        ("{'a': 1}['b']", .noSuchKey),
        ("true && 1 / 0 == 1", .divisionByZero),
        ("false || 1 / 0 == 1", .divisionByZero),
        ("[1, 0].all(x, 1 / x == 1)", .divisionByZero),
        ("int(1e99)", .outOfRange),
        ("uint(-1)", .outOfRange),
        ("int('x')", .invalidArgument),
        ("timestamp('2026-01-01T00:00:00Z') + duration(dyn(9223372036854775807))", .outOfRange),
        ("timestamp('9999-12-31T23:59:59Z') + duration('1s')", .overflow),
        ("'abc'.matches(dyn('(a)\\\\1'))", .invalidArgument),
    ]

    @Test(arguments: errorCases)
    func expressionGivesError(_ text: String, _ code: EvaluationError.Code) {
        let result = Self.eval(text)
        guard case .failure(let e) = result else {
            Issue.record("\(text) gave \(result), expected an error")
            return
        }
        #expect(e.code == code, "\(text): \(e)")
    }

    @Test func uncheckedExpressionsAbsorbErrorsAtRunTime() throws {
        #expect(Self.same(try Self.eval("x || true", checked: false).get(), .bool(true)))
        #expect(Self.same(try Self.eval("'horses' && false", checked: false).get(), .bool(false)))
        guard case .failure(let e) = Self.eval("'a' && 'b'", checked: false) else {
            Issue.record("expected no matching overload")
            return
        }
        #expect(e.code == .noSuchOverload)
    }

    @Test func budgetStopsAHostileExpression() throws {
        let text = "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a + b + c + d + e > 0)))))"
        let program = try CELProgram.compile(text, environment: CELEnvironment(variables: []))
        guard case .failure(let e) = program.evaluate([], budget: 10_000) else {
            Issue.record("100 000 iterations ran within a budget of 10 000")
            return
        }
        #expect(e.code == .budgetExceeded)
        #expect(Self.same(try program.evaluate([], budget: 1_000_000).get(), .bool(true)))
    }

    static let typeErrors: [(String, Int, String)] = [
        ("request.port > \"80\"", 13, "'>' compares int with string"),
        ("request.prot == 1", 7, "has no field 'prot'"),
        ("request.path + 1", 13, "'+' is not defined for string and int"),
        ("request.tags.exists(t, t > 1)", 25, "'>' compares string with int"),
        ("size(request.port)", 0, "size() needs a string"),
        ("nosuch(1)", 0, "unknown function 'nosuch'"),
        ("request.path.matches('(a)\\\\1')", 25, "backreferences"),
        ("whom == 1", 0, "undeclared reference to 'whom'"),
    ]

    static let request = CELRecordType(name: "http_request@1", fields: [
        .init(name: "path", type: .string, alwaysPresent: true),
        .init(name: "port", type: .int, alwaysPresent: true),
        .init(name: "tags", type: .list(.string), alwaysPresent: true),
    ])

    @Test(arguments: typeErrors)
    func checkerNamesTheProblemAndItsOffset(_ text: String, _ offset: Int, _ message: String) {
        do {
            _ = try CELProgram.compile(text, environment: CELEnvironment(variables: [.init("request", .record(Self.request))]))
            Issue.record("\(text) compiled")
        } catch {
            let first = error.diagnostics.first
            #expect(first?.offset == offset, "\(text): \(error.diagnostics)")
            #expect(first?.message.contains(message) == true, "\(text): \(error.diagnostics)")
        }
    }

    static let printCases: [(String, String)] = [
        ("request.port>80&&request.path=='/x'", "request.port > 80 && request.path == \"/x\""),
        ("(1+2)*3", "(1 + 2) * 3"),
        ("1+(2*3)", "1 + 2 * 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("!(a||b)", "!(a || b)"),
        ("a ? b : c ? d : e", "a ? b : c ? d : e"),
        ("(a ? b : c) ? d : e", "(a ? b : c) ? d : e"),
        ("[1,2,3].map(x,x*2)", "[1, 2, 3].map(x, x * 2)"),
        ("{'a':1u,\"b\":2.0}", "{\"a\": 1u, \"b\": 2.0}"),
        ("has(a.b)&&a.`c-d`==-1", "has(a.b) && a.`c-d` == -1"),
        ("1 - -2", "1 - -2"),
        ("b'\\x00a'", "b\"\\x00a\""),
        ("'tab\\there'", "\"tab\\there\""),
    ]

    @Test(arguments: printCases)
    func normalFormIsStableAndParsesBack(_ text: String, _ normal: String) throws {
        let printed = CELPrinter.print(try CELParser.parse(text))
        #expect(printed == normal)
        #expect(CELPrinter.print(try CELParser.parse(printed)) == printed)
    }

    @Test func parserRefusesDeepNestingInsteadOfCrashing() {
        let deep = String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500)
        #expect(throws: CELParser.Failure.self) { try CELParser.parse(deep) }
    }

    static func same(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.uint(let x), .uint(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.int, _), (.uint, _), (.double, _), (.list, _): return false
        default:
            if case .bool(let x) = a, case .bool(let y) = b { return x == y }
            if case .string(let x) = a, case .string(let y) = b { return x == y }
            if case .bytes(let x) = a, case .bytes(let y) = b { return x == y }
            return false
        }
    }
}

extension CELEngineTests {
    /// The deepest expressions the parser accepts compile and evaluate on a task's small stack.
    @Test func theDeepestAcceptedExpressionsRunOnATaskStack() async throws {
        let families: [(String, (Int) -> String)] = [
            ("chain", { n in Array(repeating: "1", count: n).joined(separator: " + ") }),
            ("lists", { n in String(repeating: "[", count: n) + "1" + String(repeating: "]", count: n) }),
            ("negations", { n in String(repeating: "!", count: n) + "true" }),
            ("calls", { n in String(repeating: "size([", count: n) + "1" + String(repeating: "])", count: n) }),
            ("macros", { n in String(repeating: "[1].all(x, ", count: n) + "true" + String(repeating: ")", count: n) }),
        ]
        for (name, make) in families {
            // The largest n the parser accepts for this shape.
            var n = 300
            while n > 1 && (try? CELParser.parse(make(n))) == nil { n -= 1 }
            #expect(n > 10, "\(name) accepts only \(n) levels")
            let text = make(n)
            let result = await Task.detached { () -> Bool in
                guard let program = try? CELProgram.compile(text, environment: CELEnvironment(variables: [])) else { return false }
                if case .success = program.evaluate([]) { return true }
                return false
            }.value
            #expect(result, "\(name) at depth \(n)")
            #expect(throws: CELParser.Failure.self) { try CELParser.parse(make(n + 1)) }
        }
    }
}

extension CELEngineTests {
    /// Field reads take a fast path for records of the compiled-for layout; any other record or a map gives
    /// the same answer by the general path.
    @Test func fieldReadsAgreeAcrossLayoutsAndMaps() throws {
        let program = try CELProgram.compile(
            "request.port > 1 && request.path.startsWith('/a') && !has(request.tags)",
            environment: CELEnvironment(variables: [.init("request", .record(Self.request))]))
        let other = CELRecordType(name: "other@1", fields: Self.request.fields)
        let inputs: [CELValue] = [
            .record(CELRecord(shape: Self.request.shape, values: [.string("/abc"), .int(5), nil])),
            .record(CELRecord(shape: other.shape, values: [.string("/abc"), .int(5), nil])),
            .map(CELMap([(.string("path"), .string("/abc")), (.string("port"), .int(5))])),
        ]
        for input in inputs {
            #expect(Self.same(try program.evaluate([input]).get(), .bool(true)))
            var frame = CELFrame(slotCount: program.slotCount, budget: 1000)
            frame.set(input, slot: 0)
            #expect(Self.same(try program.evaluate(in: &frame), .bool(true)))
        }
        var frame = CELFrame(slotCount: program.slotCount, budget: 1000)
        frame.set(inputs[0], slot: 0)
        frame.set(.record(CELRecord(shape: Self.request.shape, values: [.string("/zzz"), .int(5), nil])), slot: 0)
        #expect(Self.same(try program.evaluate(in: &frame), .bool(false)), "rebinding slot 0 replaces the cached fields")
    }
}
