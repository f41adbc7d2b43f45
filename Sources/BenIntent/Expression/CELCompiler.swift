/// Type-checks an expression against its environment and turns it into a tree of closures, once.
///
/// Checking and compiling happen in one walk: each node's static type picks the closure that evaluates it,
/// so a comparison of an int field with an int constant runs without dynamic dispatch on the operands.
struct CELCompiler {
    typealias E = EvaluationError

    let checked: Bool
    var variables: [String: (slot: Int, type: CELType)] = [:]
    /// Macro variables in scope, innermost last.
    var locals: [(name: String, slot: Int, type: CELType)] = []
    var nextSlot: Int
    var maxSlot: Int
    var diagnostics: [CELDiagnostic] = []

    init(environment: CELEnvironment) {
        checked = environment.checked
        for (i, v) in environment.variables.enumerated() { variables[v.name] = (i, v.type) }
        nextSlot = environment.variables.count
        maxSlot = nextSlot
    }

    mutating func diagnose(_ offset: Int, _ message: String) {
        if checked { diagnostics.append(CELDiagnostic(offset: offset, message: message)) }
    }

    static func constant(_ v: CELValue) -> CELEval { { _ in v } }
    static func failing(_ error: E) -> CELEval { { _ throws(E) in throw error } }

    mutating func compile(_ e: CELExpression) -> (CELType, CELEval) {
        switch e.node {
        case .literal(let v): return (Self.staticType(of: v), Self.constant(v))
        case .identifier(let name): return compileIdentifier(name, at: e.offset)
        case .select(let operand, let field):
            if let resolved = resolveQualified(e) { return resolved }
            return compileSelect(operand, field, at: e.offset)
        case .presence(let operand, let field): return compilePresence(operand, field, at: e.offset)
        case .index(let operand, let index): return compileIndex(operand, index, at: e.offset)
        case .unary(let op, let operand): return compileUnary(op, operand, at: e.offset)
        case .binary(let op, let left, let right): return compileBinary(op, left, right, at: e.offset)
        case .conditional(let c, let t, let f): return compileConditional(c, t, f)
        case .call(let name, let receiver, let arguments): return compileCall(name, receiver, arguments, at: e.offset)
        case .list(let elements): return compileList(elements)
        case .map(let entries): return compileMap(entries, at: e.offset)
        case .comprehension(let macro, let range, let variable, let arguments):
            return compileComprehension(macro, range, variable, arguments, at: e.offset)
        }
    }

    static func staticType(of v: CELValue) -> CELType {
        switch v {
        case .null: .null
        case .bool: .bool
        case .int: .int
        case .uint: .uint
        case .double: .double
        case .string: .string
        case .bytes: .bytes
        case .timestamp: .timestamp
        case .duration: .duration
        case .type: .type
        case .list: .list(.dyn)
        case .map: .map(.dyn, .dyn)
        case .record: .dyn
        }
    }

    // MARK: Names

    func local(_ name: String) -> (slot: Int, type: CELType)? {
        for l in locals.reversed() where l.name == name { return (l.slot, l.type) }
        return nil
    }

    mutating func compileIdentifier(_ name: String, at offset: Int) -> (CELType, CELEval) {
        if let (slot, type) = local(name) ?? variables[name] {
            return (type, { f in f.slots[slot] })
        }
        if let typeName = CELConversions.typeIdentifiers[name] {
            return (.type, Self.constant(.type(typeName)))
        }
        let known = variables.keys.sorted()
        diagnose(offset, "undeclared reference to '\(name)'" + (known.isEmpty ? "" : "; in scope: \(known.joined(separator: ", "))"))
        return (.dyn, Self.failing(E(.unboundVariable, "undeclared reference to '\(name)'")))
    }

    /// The dotted name of a chain of selections on an identifier (`a.b.c`), if that is what `e` is.
    func dottedName(_ e: CELExpression) -> [String]? {
        switch e.node {
        case .identifier(let name): return [name]
        case .select(let operand, let field): return dottedName(operand).map { $0 + [field] }
        default: return nil
        }
    }

    /// Resolves `a.b.c` to the longest declared name it starts with (`a.b.c`, else `a.b` then `.c`, …), as
    /// CEL's qualified identifiers do. Nil when the chain starts at a macro variable or nothing longer than
    /// the first part is declared.
    mutating func resolveQualified(_ e: CELExpression) -> (CELType, CELEval)? {
        guard let parts = dottedName(e), parts.count > 1, local(parts[0]) == nil else { return nil }
        for k in stride(from: parts.count, through: 2, by: -1) {
            let name = parts[0..<k].joined(separator: ".")
            if let (slot, type) = variables[name] {
                var result: (CELType, CELEval) = (type, { f in f.slots[slot] })
                for field in parts[k...] { result = select(result, field, at: e.offset) }
                return result
            }
            if k == parts.count, let typeName = CELConversions.typeIdentifiers[name] {
                return (.type, Self.constant(.type(typeName)))
            }
        }
        return nil
    }

    mutating func compileSelect(_ operand: CELExpression, _ field: String, at offset: Int) -> (CELType, CELEval) {
        // The hot case: a field of a declared record variable (`request.port`) reads the frame slot directly.
        if case .identifier(let name) = operand.node, local(name) == nil, let (varSlot, type) = variables[name],
            case .record(let record) = type, let (slot, declared) = record.field(field)
        {
            let shape = record.shape
            if varSlot == 0 {
                return (declared.type, { f throws(E) in
                    if f.rootShape === shape {
                        if let x = f.rootFields[slot] { return x }
                        throw E(.noSuchKey, "no such key: '\(field)' is absent; guard it with has()")
                    }
                    return try CELOperations.select(f.slots[0], field)
                })
            }
            return (declared.type, { f throws(E) in
                if case .record(let r) = f.slots[varSlot], r.shape === shape {
                    if let x = r.values[slot] { return x }
                    throw E(.noSuchKey, "no such key: '\(field)' is absent; guard it with has()")
                }
                return try CELOperations.select(f.slots[varSlot], field)
            })
        }
        return select(compile(operand), field, at: offset)
    }

    mutating func select(_ operand: (CELType, CELEval), _ field: String, at offset: Int) -> (CELType, CELEval) {
        let (type, eval) = operand
        switch type {
        case .record(let record):
            guard let (slot, declared) = record.field(field) else {
                diagnose(offset, "\(record.name) has no field '\(field)'; its fields are \(record.fields.map(\.name).joined(separator: ", "))")
                return (.dyn, Self.failing(E(.noSuchField, "no such field '\(field)'")))
            }
            let shape = record.shape
            return (declared.type, { f throws(E) in
                let v = try eval(&f)
                if case .record(let r) = v, r.shape === shape {
                    if let x = r.values[slot] { return x }
                    throw E(.noSuchKey, "no such key: '\(field)' is absent; guard it with has()")
                }
                return try CELOperations.select(v, field)
            })
        case .map(let key, let value):
            if key != .string && key != .dyn {
                diagnose(offset, "cannot select '.\(field)' from a map with \(key) keys; use [\(key) key] instead")
            }
            return (value, { f throws(E) in try CELOperations.select(try eval(&f), field) })
        case .dyn:
            return (.dyn, { f throws(E) in try CELOperations.select(try eval(&f), field) })
        default:
            diagnose(offset, "\(type) has no fields; '.\(field)' needs a record or a map")
            return (.dyn, { f throws(E) in try CELOperations.select(try eval(&f), field) })
        }
    }

    mutating func compilePresence(_ operand: CELExpression, _ field: String, at offset: Int) -> (CELType, CELEval) {
        let (type, eval) = resolveQualified(operand) ?? compile(operand)
        switch type {
        case .record(let record):
            if record.field(field) == nil {
                diagnose(offset, "\(record.name) has no field '\(field)'; its fields are \(record.fields.map(\.name).joined(separator: ", "))")
            }
        case .map(let key, _) where key == .string || key == .dyn: break
        case .dyn: break
        default: diagnose(offset, "has() needs a field of a record or a map, not of \(type)")
        }
        return (.bool, { f throws(E) in .bool(try CELOperations.has(try eval(&f), field)) })
    }

    mutating func compileIndex(_ operand: CELExpression, _ index: CELExpression, at offset: Int) -> (CELType, CELEval) {
        let (containerType, container) = compile(operand)
        let (keyType, key) = compile(index)
        var result = CELType.dyn
        switch containerType {
        case .list(let element):
            if ![.int, .uint, .dyn].contains(keyType) { diagnose(index.offset, "a list index must be an int, not \(keyType)") }
            result = element
        case .map(let k, let v):
            if !keyType.isAssignable(to: k) { diagnose(index.offset, "this map has \(k) keys; the index is \(keyType)") }
            result = v
        case .record(let record):
            if case .literal(.string(let name)) = index.node, let (_, field) = record.field(name) { result = field.type }
            if !keyType.isAssignable(to: .string) { diagnose(index.offset, "record fields are named by strings, not \(keyType)") }
        case .dyn: break
        default: diagnose(offset, "\(containerType) cannot be indexed; [ ] needs a list or a map")
        }
        return (result, { f throws(E) in try CELOperations.index(try container(&f), try key(&f)) })
    }

    // MARK: Operators

    mutating func compileUnary(_ op: CELUnaryOperator, _ operand: CELExpression, at offset: Int) -> (CELType, CELEval) {
        let (type, eval) = compile(operand)
        switch op {
        case .not:
            if type != .bool && type != .dyn { diagnose(offset, "'!' needs a bool, not \(type)") }
            return (.bool, { f throws(E) in
                let v = try eval(&f)
                guard case .bool(let b) = v else { throw E.overload("!_", v) }
                return .bool(!b)
            })
        case .negate:
            if ![.int, .double, .duration, .dyn].contains(type) { diagnose(offset, "'-' cannot negate \(type)") }
            return (type, { f throws(E) in try CELOperations.negate(try eval(&f)) })
        }
    }

    mutating func compileConditional(_ c: CELExpression, _ t: CELExpression, _ e: CELExpression) -> (CELType, CELEval) {
        let (ct, cond) = compile(c)
        if ct != .bool && ct != .dyn { diagnose(c.offset, "the condition of '?:' must be a bool, not \(ct)") }
        let (tt, whenTrue) = compile(t)
        let (et, whenFalse) = compile(e)
        if checked && !tt.isAssignable(to: et) {
            diagnose(t.offset, "the branches of '?:' differ: \(tt) and \(et)")
        }
        return (tt.joined(with: et), { f throws(E) in
            let v = try cond(&f)
            guard case .bool(let b) = v else { throw E.overload("_?_:_", v) }
            return b ? try whenTrue(&f) : try whenFalse(&f)
        })
    }

    mutating func compileBinary(_ op: CELBinaryOperator, _ l: CELExpression, _ r: CELExpression, at offset: Int)
        -> (CELType, CELEval)
    {
        let (lt, left) = compile(l)
        let (rt, right) = compile(r)
        switch op {
        case .and, .or:
            for (t, x) in [(lt, l), (rt, r)] where t != .bool && t != .dyn {
                diagnose(x.offset, "'\(op.rawValue)' needs bool operands; this one is \(t)")
            }
            return (.bool, Self.logical(op, left, right))
        case .equal, .notEqual:
            if checked && !(lt.isAssignable(to: rt) || (lt == .null || rt == .null) && (lt == .dyn || rt == .dyn)) {
                diagnose(offset, "'\(op.rawValue)' compares \(lt) with \(rt); compare values of the same type"
                    + Self.hint(lt, rt, r))
            }
            return (.bool, Self.equality(op == .equal, left, right, literal: Self.literalValue(r)))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let orderable: Set<CELType> = [.int, .uint, .double, .string, .bytes, .bool, .timestamp, .duration, .dyn]
            let ok = lt == .dyn || rt == .dyn || (lt.isNumeric && rt.isNumeric) || (lt == rt && orderable.contains(lt))
            if !ok {
                diagnose(offset, "'\(op.rawValue)' compares \(lt) with \(rt); compare values of the same type" + Self.hint(lt, rt, r))
            }
            return (.bool, Self.ordering(op, left, right, literal: Self.literalValue(r)))
        case .in:
            switch rt {
            case .list(let element):
                if !lt.isAssignable(to: element) && !(lt.isNumeric && element.isNumeric) {
                    diagnose(offset, "'in' looks for \(lt) in a list of \(element)")
                }
            case .map(let key, _):
                if !lt.isAssignable(to: key) && !(lt.isNumeric && key.isNumeric) {
                    diagnose(offset, "'in' looks for a \(lt) key in a map with \(key) keys")
                }
            case .record:
                if !lt.isAssignable(to: .string) { diagnose(offset, "'in' on a record looks for a field name (a string), not \(lt)") }
            case .dyn: break
            default: diagnose(r.offset, "'in' needs a list or a map on its right, not \(rt)")
            }
            if case .literal(.list(let items)) = Self.foldedList(r), let set = Self.literalSet(items) {
                return (.bool, Self.inSet(left, set, items: items))
            }
            return (.bool, { f throws(E) in .bool(try CELOperations.contains(try right(&f), try left(&f))) })
        case .add, .subtract, .multiply, .divide, .remainder:
            let type = arithmeticType(op, lt, rt, at: offset)
            return (type, Self.arithmetic(op, left, right))
        }
    }

    static func hint(_ lt: CELType, _ rt: CELType, _ r: CELExpression) -> String {
        if lt.isNumeric, case .literal(.string(let s)) = r.node, Int64(s) != nil || Double(s) != nil {
            return " (write \(s), not \"\(s)\")"
        }
        return ""
    }

    mutating func arithmeticType(_ op: CELBinaryOperator, _ lt: CELType, _ rt: CELType, at offset: Int) -> CELType {
        if lt == .dyn || rt == .dyn {
            if lt == .dyn && rt == .dyn { return .dyn }
            let known = lt == .dyn ? rt : lt
            if case .list = known { return known }
            if op == .subtract && known == .timestamp { return .dyn }
            return [.int, .uint, .double, .string, .bytes, .duration].contains(known) ? known : .dyn
        }
        var result: CELType? = nil
        switch op {
        case .add:
            switch (lt, rt) {
            case (.int, .int), (.uint, .uint), (.double, .double), (.string, .string), (.bytes, .bytes), (.duration, .duration):
                result = lt
            case (.list, .list): result = lt.joined(with: rt)
            case (.timestamp, .duration), (.duration, .timestamp): result = .timestamp
            default: break
            }
        case .subtract:
            switch (lt, rt) {
            case (.int, .int), (.uint, .uint), (.double, .double), (.duration, .duration): result = lt
            case (.timestamp, .timestamp): result = .duration
            case (.timestamp, .duration): result = .timestamp
            default: break
            }
        case .multiply, .divide:
            if lt == rt && [.int, .uint, .double].contains(lt) { result = lt }
        case .remainder:
            if lt == rt && [.int, .uint].contains(lt) { result = lt }
        default: break
        }
        guard let result else {
            diagnose(offset, "'\(op.rawValue)' is not defined for \(lt) and \(rt)"
                + (lt.isNumeric && rt.isNumeric ? "; convert one side with int(), uint() or double()" : ""))
            return .dyn
        }
        return result
    }

    static func literalValue(_ e: CELExpression) -> CELValue? {
        if case .literal(let v) = e.node { return v }
        return nil
    }

    /// A list literal made only of scalar literals, as a value.
    static func foldedList(_ e: CELExpression) -> CELNode {
        guard case .list(let items) = e.node else { return e.node }
        var values: [CELValue] = []
        for item in items {
            guard case .literal(let v) = item.node else { return e.node }
            values.append(v)
        }
        return .literal(.list(values))
    }

    /// Strings or ints only, so hashing agrees with CEL equality.
    static func literalSet(_ items: [CELValue]) -> Set<CELMapKey>? {
        var set = Set<CELMapKey>()
        for item in items {
            switch item {
            case .string(let s) where s.utf8.allSatisfy({ $0 < 0x80 }): set.insert(.string(s))
            case .int(let i): set.insert(.int(i))
            default: return nil
            }
        }
        return set
    }

    static func inSet(_ left: @escaping CELEval, _ set: Set<CELMapKey>, items: [CELValue]) -> CELEval {
        return { f throws(E) in
            let v = try left(&f)
            switch v {
            case .string(let s): return .bool(set.contains(.string(s)))
            case .int(let i): return .bool(set.contains(.int(i)))
            default: return .bool(try CELOperations.contains(.list(items), v))
            }
        }
    }

    /// `&&` (`decisive` false) and `||` (`decisive` true) with CEL's commutative error handling: whichever side
    /// is `decisive` decides the result even when the other side is an error or not a bool; otherwise the first
    /// error (or overload error) wins, and two non-decisive bools give `!decisive`.
    static func logical(_ op: CELBinaryOperator, _ left: @escaping CELEval, _ right: @escaping CELEval) -> CELEval {
        let decisive = op == .or
        let function = "_\(op.rawValue)_"
        return { f throws(E) in
            var pending: E? = nil
            do throws(E) {
                let l = try left(&f)
                if case .bool(let b) = l {
                    if b == decisive { return .bool(decisive) }
                } else {
                    pending = E.overload(function, l)
                }
            } catch {
                pending = error
            }
            let r: CELValue
            do throws(E) {
                r = try right(&f)
            } catch {
                throw pending ?? error
            }
            guard case .bool(let b) = r else { throw pending ?? E.overload(function, r) }
            if b == decisive { return .bool(decisive) }
            if let pending { throw pending }
            return .bool(!decisive)
        }
    }

    static func equality(_ equal: Bool, _ left: @escaping CELEval, _ right: @escaping CELEval, literal: CELValue?)
        -> CELEval
    {
        switch literal {
        case .string(let c)?:
            return { f throws(E) in
                let v = try left(&f)
                if case .string(let s) = v { return .bool(CELOperations.stringsEqual(s, c) == equal) }
                return .bool(CELOperations.equals(v, .string(c)) == equal)
            }
        case .int(let c)?:
            return { f throws(E) in
                let v = try left(&f)
                if case .int(let i) = v { return .bool((i == c) == equal) }
                return .bool(CELOperations.equals(v, .int(c)) == equal)
            }
        case .bool(let c)?:
            return { f throws(E) in
                let v = try left(&f)
                if case .bool(let b) = v { return .bool((b == c) == equal) }
                return .bool(CELOperations.equals(v, .bool(c)) == equal)
            }
        default:
            return { f throws(E) in
                let l = try left(&f)
                let r = try right(&f)
                return .bool(CELOperations.equals(l, r) == equal)
            }
        }
    }

    static func ordering(_ op: CELBinaryOperator, _ left: @escaping CELEval, _ right: @escaping CELEval, literal: CELValue?)
        -> CELEval
    {
        let name = "_\(op.rawValue)_"
        let test: @Sendable (Int) -> Bool
        switch op {
        case .less: test = { $0 < 0 }
        case .lessOrEqual: test = { $0 <= 0 }
        case .greater: test = { $0 > 0 }
        default: test = { $0 >= 0 }
        }
        if case .int(let c)? = literal {
            let intTest: @Sendable (Int64, Int64) -> Bool
            switch op {
            case .less: intTest = { $0 < $1 }
            case .lessOrEqual: intTest = { $0 <= $1 }
            case .greater: intTest = { $0 > $1 }
            default: intTest = { $0 >= $1 }
            }
            return { f throws(E) in
                let v = try left(&f)
                if case .int(let i) = v { return .bool(intTest(i, c)) }
                guard let order = try CELOperations.order(v, .int(c), name) else { return .bool(false) }
                return .bool(test(order))
            }
        }
        return { f throws(E) in
            let l = try left(&f)
            let r = try right(&f)
            guard let order = try CELOperations.order(l, r, name) else { return .bool(false) }
            return .bool(test(order))
        }
    }

    static func arithmetic(_ op: CELBinaryOperator, _ left: @escaping CELEval, _ right: @escaping CELEval) -> CELEval {
        switch op {
        case .add:
            return { f throws(E) in
                let l = try left(&f)
                let r = try right(&f)
                switch (l, r) {
                case (.string(let a), .string(let b)): try f.charge((a.utf8.count + b.utf8.count) / 64)
                case (.list(let a), .list(let b)): try f.charge((a.count + b.count) / 8)
                case (.bytes(let a), .bytes(let b)): try f.charge((a.count + b.count) / 64)
                default: break
                }
                return try CELOperations.add(l, r)
            }
        case .subtract: return { f throws(E) in try CELOperations.subtract(try left(&f), try right(&f)) }
        case .multiply: return { f throws(E) in try CELOperations.multiply(try left(&f), try right(&f)) }
        case .divide: return { f throws(E) in try CELOperations.divide(try left(&f), try right(&f)) }
        default: return { f throws(E) in try CELOperations.remainder(try left(&f), try right(&f)) }
        }
    }

    // MARK: Literals

    mutating func compileList(_ elements: [CELExpression]) -> (CELType, CELEval) {
        var type: CELType? = nil
        var evals: [CELEval] = []
        var constants: [CELValue] = []
        for element in elements {
            let (t, e) = compile(element)
            type = type.map { $0.joined(with: t) } ?? t
            evals.append(e)
            if case .literal(let v) = element.node { constants.append(v) }
        }
        let listType = CELType.list(type ?? .dyn)
        let steps = evals
        if constants.count == elements.count { return (listType, Self.constant(.list(constants))) }
        return (listType, { f throws(E) in
            var out: [CELValue] = []
            out.reserveCapacity(steps.count)
            for e in steps { out.append(try e(&f)) }
            return .list(out)
        })
    }

    mutating func compileMap(_ entries: [(key: CELExpression, value: CELExpression)], at offset: Int) -> (CELType, CELEval) {
        var keyType: CELType? = nil
        var valueType: CELType? = nil
        var evals: [(CELEval, CELEval)] = []
        for entry in entries {
            let (kt, k) = compile(entry.key)
            let (vt, v) = compile(entry.value)
            if ![.bool, .int, .uint, .string, .dyn].contains(kt) {
                diagnose(entry.key.offset, "a map key must be a bool, int, uint or string, not \(kt)")
            }
            keyType = keyType.map { $0.joined(with: kt) } ?? kt
            valueType = valueType.map { $0.joined(with: vt) } ?? vt
            evals.append((k, v))
        }
        let steps = evals
        return (.map(keyType ?? .dyn, valueType ?? .dyn), { f throws(E) in
            var map = CELMap()
            for (k, v) in steps {
                let key = try k(&f)
                guard let mapKey = CELMapKey(key) else {
                    throw E(.invalidArgument, "invalid_argument: \(key.typeName) cannot be a map key")
                }
                guard map[mapKey] == nil else {
                    throw E(.invalidArgument, "invalid_argument: map literal repeats key \(CELOperations.describe(key))")
                }
                map[mapKey] = try v(&f)
            }
            return .map(map)
        })
    }
}
