/// A recursive-descent parser for the CEL subset (cel-spec's grammar, without message construction).
///
/// Macros (`has`, `all`, `exists`, `exists_one`, `map`, `filter`) are recognised here, as CEL does, so the
/// checker and evaluator see them as their own nodes.
public struct CELParser {
    public struct Failure: Error, Sendable, Hashable {
        public var offset: Int
        public var message: String
    }

    /// Nesting deeper than this is refused, so a hostile expression cannot exhaust the stack of the thread
    /// that compiles or evaluates it. A chain of binary operators (`a || b || c …`) nests one level per
    /// operator, so it counts too.
    public static let maxDepth = 128

    var tokens: [CELToken]
    var position = 0
    var depth = 0

    public static func parse(_ text: String) throws(Failure) -> CELExpression {
        let tokens: [CELToken]
        do {
            tokens = try CELLexer.tokenize(text)
        } catch {
            throw Failure(offset: error.offset, message: error.message)
        }
        var parser = CELParser(tokens: tokens)
        let expression = try parser.parseExpression()
        guard parser.current.kind == .end else {
            throw Failure(offset: parser.current.offset, message: "unexpected \(parser.describe(parser.current)) after the end of the expression")
        }
        return expression
    }

    var current: CELToken { tokens[position] }

    mutating func advance() -> CELToken {
        let token = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    func isPunct(_ text: String) -> Bool {
        if case .punct(let p) = current.kind, p == text { return true }
        return false
    }

    mutating func accept(_ text: String) -> Bool {
        guard isPunct(text) else { return false }
        _ = advance()
        return true
    }

    mutating func expect(_ text: String, _ context: String) throws(Failure) {
        guard accept(text) else {
            throw Failure(offset: current.offset, message: "expected '\(text)' \(context), found \(describe(current))")
        }
    }

    func describe(_ token: CELToken) -> String {
        switch token.kind {
        case .end: "the end of the expression"
        case .punct(let p): "'\(p)'"
        case .identifier(let s), .reserved(let s): "'\(s)'"
        case .quotedIdentifier(let s): "`\(s)`"
        case .int, .uint, .double: "a number"
        case .string: "a string"
        case .bytes: "a bytes literal"
        }
    }

    mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maxDepth else {
            throw Failure(offset: current.offset, message: "expression nested deeper than \(Self.maxDepth) levels")
        }
    }

    // Expr = ConditionalOr ["?" ConditionalOr ":" Expr]
    mutating func parseExpression() throws(Failure) -> CELExpression {
        try enter()
        defer { depth -= 1 }
        let condition = try parseBinary(minPrecedence: 1)
        guard isPunct("?") else { return condition }
        _ = advance()
        let whenTrue = try parseBinary(minPrecedence: 1)
        try expect(":", "in a conditional (cond ? a : b)")
        let whenFalse = try parseExpression()
        return CELExpression(.conditional(condition, whenTrue, whenFalse), at: condition.offset)
    }

    func binaryOperator() -> CELBinaryOperator? {
        guard case .punct(let p) = current.kind else { return nil }
        return CELBinaryOperator(rawValue: p)
    }

    /// Precedence climbing over the left-associative binary operators.
    mutating func parseBinary(minPrecedence: Int) throws(Failure) -> CELExpression {
        var left = try parseUnary()
        let outer = depth
        defer { depth = outer }
        while let op = binaryOperator(), op.precedence >= minPrecedence {
            let opToken = advance()
            // The tree grows one level deeper on the left with every operator of the chain.
            try enter()
            let right = try parseBinary(minPrecedence: op.precedence + 1)
            left = CELExpression(.binary(op, left, right), at: opToken.offset)
        }
        return left
    }

    // Unary = Member | "!" {"!"} Member | "-" {"-"} Member
    mutating func parseUnary() throws(Failure) -> CELExpression {
        if isPunct("!") {
            let start = advance()
            try enter()
            defer { depth -= 1 }
            let operand = try parseUnary()
            return CELExpression(.unary(.not, operand), at: start.offset)
        }
        if isPunct("-") {
            let start = advance()
            try enter()
            defer { depth -= 1 }
            // A minus directly before a number literal is part of the literal, so -9223372036854775808 is an int.
            switch current.kind {
            case .int(let magnitude) where !followedByMember():
                _ = advance()
                guard magnitude <= UInt64(Int64.max) + 1 else {
                    throw Failure(offset: start.offset, message: "integer literal out of range")
                }
                return CELExpression(.literal(.int(magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude))), at: start.offset)
            case .double(let d) where !followedByMember():
                _ = advance()
                return CELExpression(.literal(.double(-d)), at: start.offset)
            default:
                let operand = try parseUnary()
                return CELExpression(.unary(.negate, operand), at: start.offset)
            }
        }
        return try parseMember()
    }

    func followedByMember() -> Bool {
        guard position + 1 < tokens.count, case .punct(let p) = tokens[position + 1].kind else { return false }
        return p == "." || p == "["
    }

    // Member = Primary | Member "." SELECTOR ["(" [ExprList] ")"] | Member "[" Expr "]"
    mutating func parseMember() throws(Failure) -> CELExpression {
        var expression = try parsePrimary()
        var chain = 0
        while true {
            if isPunct(".") {
                let dot = advance()
                let nameToken = advance()
                let name: String
                switch nameToken.kind {
                case .identifier(let s), .reserved(let s), .quotedIdentifier(let s): name = s
                case .punct(let p) where p == "true" || p == "false" || p == "null" || p == "in": name = p
                default:
                    throw Failure(offset: nameToken.offset, message: "expected a field name after '.', found \(describe(nameToken))")
                }
                if isPunct("(") {
                    if case .quotedIdentifier = nameToken.kind {
                        throw Failure(offset: nameToken.offset, message: "a quoted name cannot be called as a function")
                    }
                    _ = advance()
                    let arguments = try parseList(closing: ")")
                    expression = try makeCall(name, receiver: expression, arguments: arguments, at: nameToken.offset)
                } else {
                    expression = CELExpression(.select(expression, name), at: dot.offset)
                }
            } else if isPunct("[") {
                let open = advance()
                let index = try parseExpression()
                try expect("]", "to close the index")
                expression = CELExpression(.index(expression, index), at: open.offset)
            } else if isPunct("{") {
                throw Failure(offset: current.offset, message: "message construction (Type{field: value}) is not part of Ben's expression language")
            } else {
                return expression
            }
            chain += 1
            guard chain <= Self.maxDepth else {
                throw Failure(offset: current.offset, message: "selection chain longer than \(Self.maxDepth)")
            }
        }
    }

    mutating func parseList(closing: String) throws(Failure) -> [CELExpression] {
        var items: [CELExpression] = []
        if accept(closing) { return items }
        while true {
            items.append(try parseExpression())
            if accept(closing) { return items }
            try expect(",", "between elements")
            if closing == "]" && accept(closing) { return items }
        }
    }

    mutating func parsePrimary() throws(Failure) -> CELExpression {
        let token = advance()
        let at = token.offset
        switch token.kind {
        case .int(let magnitude):
            guard magnitude <= UInt64(Int64.max) else {
                throw Failure(offset: at, message: "integer literal out of range; add a 'u' suffix for a uint")
            }
            return CELExpression(.literal(.int(Int64(magnitude))), at: at)
        case .uint(let u): return CELExpression(.literal(.uint(u)), at: at)
        case .double(let d): return CELExpression(.literal(.double(d)), at: at)
        case .string(let s): return CELExpression(.literal(.string(s)), at: at)
        case .bytes(let b): return CELExpression(.literal(.bytes(b)), at: at)
        case .punct("true"): return CELExpression(.literal(.bool(true)), at: at)
        case .punct("false"): return CELExpression(.literal(.bool(false)), at: at)
        case .punct("null"): return CELExpression(.literal(.null), at: at)
        case .punct("("):
            let inner = try parseExpression()
            try expect(")", "to close the parenthesis")
            return inner
        case .punct("["):
            try enter()
            defer { depth -= 1 }
            return CELExpression(.list(try parseList(closing: "]")), at: at)
        case .punct("{"):
            try enter()
            defer { depth -= 1 }
            var entries: [(key: CELExpression, value: CELExpression)] = []
            if accept("}") { return CELExpression(.map(entries), at: at) }
            while true {
                let key = try parseExpression()
                try expect(":", "between a map key and its value")
                let value = try parseExpression()
                entries.append((key, value))
                if accept("}") { break }
                try expect(",", "between map entries")
                if accept("}") { break }
            }
            return CELExpression(.map(entries), at: at)
        case .punct("."):
            // A leading dot names the root namespace; Ben has only one, so `.x` is `x`.
            let next = advance()
            guard case .identifier(let name) = next.kind else {
                throw Failure(offset: next.offset, message: "expected a name after a leading '.'")
            }
            return try identifierOrCall(name, at: at)
        case .identifier(let name):
            return try identifierOrCall(name, at: at)
        case .reserved(let word):
            throw Failure(offset: at, message: "'\(word)' is a reserved word and cannot name a value")
        case .quotedIdentifier(let name):
            throw Failure(offset: at, message: "`\(name)` is only valid as a field selector (x.`\(name)`)")
        case .end:
            throw Failure(offset: at, message: "the expression ends early")
        default:
            throw Failure(offset: at, message: "unexpected \(describe(token))")
        }
    }

    mutating func identifierOrCall(_ name: String, at offset: Int) throws(Failure) -> CELExpression {
        guard accept("(") else { return CELExpression(.identifier(name), at: offset) }
        let arguments = try parseList(closing: ")")
        return try makeCall(name, receiver: nil, arguments: arguments, at: offset)
    }

    /// Turns macro calls into their nodes; everything else stays a call.
    func makeCall(_ name: String, receiver: CELExpression?, arguments: [CELExpression], at offset: Int) throws(Failure)
        -> CELExpression
    {
        if receiver == nil && name == "has" {
            guard arguments.count == 1, case .select(let operand, let field) = arguments[0].node else {
                throw Failure(offset: offset, message: "has() takes one field selection, such as has(request.user)")
            }
            return CELExpression(.presence(operand, field), at: offset)
        }
        if let receiver, let macro = CELMacro(rawValue: name) {
            let expected = macro == .map ? [2, 3] : [2]
            if expected.contains(arguments.count) {
                guard case .identifier(let variable) = arguments[0].node else {
                    throw Failure(offset: arguments[0].offset, message: "\(name)() needs a variable name as its first argument")
                }
                return CELExpression(
                    .comprehension(macro, range: receiver, variable: variable, arguments: Array(arguments.dropFirst())),
                    at: offset)
            }
        }
        return CELExpression(.call(name, receiver: receiver, arguments: arguments), at: offset)
    }
}
