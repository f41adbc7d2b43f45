/// Functions, conversions and macros.
extension CELCompiler {
    static let conversions: [String: (accepts: Set<CELType>, result: CELType, convert: @Sendable (CELValue) throws(E) -> CELValue)] = [
        "int": ([.int, .uint, .double, .string, .timestamp], .int, CELConversions.toInt),
        "uint": ([.int, .uint, .double, .string], .uint, CELConversions.toUInt),
        "double": ([.int, .uint, .double, .string], .double, CELConversions.toDouble),
        "string": ([.int, .uint, .double, .string, .bool, .bytes, .timestamp, .duration], .string, CELConversions.toString),
        "bytes": ([.string, .bytes], .bytes, CELConversions.toBytes),
        "bool": ([.bool, .string], .bool, CELConversions.toBool),
        "timestamp": ([.string, .int, .timestamp], .timestamp, CELConversions.toTimestamp),
        "duration": ([.string, .int, .duration], .duration, CELConversions.toDuration),
    ]

    mutating func compileCall(_ name: String, _ receiver: CELExpression?, _ arguments: [CELExpression], at offset: Int)
        -> (CELType, CELEval)
    {
        let target = receiver.map { compile($0) }
        let args = arguments.map { compile($0) }
        let argTypes = args.map(\.0)

        func arity(_ n: Int) -> Bool {
            guard args.count == n else {
                diagnose(offset, "\(name)() takes \(n) argument\(n == 1 ? "" : "s"), not \(args.count)")
                return false
            }
            return true
        }

        switch (name, target) {
        case ("size", nil) where args.count == 1, ("size", .some) where args.isEmpty:
            let (type, eval) = target ?? args[0]
            switch type {
            case .string, .bytes, .list, .map, .record, .dyn: break
            default: diagnose(offset, "size() needs a string, bytes, list or map, not \(type)")
            }
            return (.int, { f throws(E) in try CELOperations.size(try eval(&f)) })

        case ("contains", .some(let t)), ("startsWith", .some(let t)), ("endsWith", .some(let t)), ("matches", .some(let t)):
            guard arity(1) else { return (.bool, Self.failing(E.overload(name))) }
            if t.0 != .string && t.0 != .dyn { diagnose(offset, "\(name)() is called on a string, not on \(t.0)") }
            if argTypes[0] != .string && argTypes[0] != .dyn { diagnose(arguments[0].offset, "\(name)() takes a string, not \(argTypes[0])") }
            return (.bool, stringFunction(name, t.1, args[0].1, pattern: arguments[0]))

        case ("matches", nil) where args.count == 2:
            for (i, t) in argTypes.enumerated() where t != .string && t != .dyn {
                diagnose(arguments[i].offset, "matches() takes strings, not \(t)")
            }
            return (.bool, stringFunction(name, args[0].1, args[1].1, pattern: arguments[1]))

        case ("type", nil):
            guard arity(1) else { return (.type, Self.failing(E.overload(name))) }
            let eval = args[0].1
            return (.type, { f throws(E) in .type(try eval(&f).typeName) })

        case ("dyn", nil):
            guard arity(1) else { return (.dyn, Self.failing(E.overload(name))) }
            return (.dyn, args[0].1)

        default:
            if target == nil, let conversion = Self.conversions[name] {
                guard arity(1) else { return (conversion.result, Self.failing(E.overload(name))) }
                if argTypes[0] != .dyn && !conversion.accepts.contains(argTypes[0]) {
                    diagnose(offset, "\(name)() cannot convert \(argTypes[0]); it takes \(conversion.accepts.map(\.description).sorted().joined(separator: ", "))")
                }
                let eval = args[0].1
                let convert = conversion.convert
                if name == "timestamp" || name == "duration", case .literal(let v) = arguments[0].node {
                    // A constant is converted once, here, and a bad one is a compile error with its column.
                    do throws(E) {
                        let value = try convert(v)
                        return (conversion.result, Self.constant(value))
                    } catch {
                        diagnose(arguments[0].offset, error.message)
                    }
                }
                return (conversion.result, { f throws(E) in try convert(try eval(&f)) })
            }
            let known = ["size", "contains", "startsWith", "endsWith", "matches", "type", "dyn"] + Self.conversions.keys.sorted()
            diagnose(offset, "unknown function '\(name)'" + (target == nil ? "" : " on \(target!.0)") + "; Ben's expressions know \(known.joined(separator: ", ")) and the macros all, exists, exists_one, map, filter, has")
            return (.dyn, Self.failing(E(.unknownFunction, "unbound function '\(name)'")))
        }
    }

    mutating func stringFunction(_ name: String, _ receiver: @escaping CELEval, _ argument: @escaping CELEval, pattern: CELExpression)
        -> CELEval
    {
        switch name {
        case "contains":
            if case .literal(.string(let needle)) = pattern.node {
                let bytes = Array(needle.utf8)
                return { f throws(E) in
                    let v = try receiver(&f)
                    guard case .string(let s) = v else { throw E.overload("contains", v) }
                    try f.charge(s.utf8.count / 64)
                    return .bool(CELOperations.find(bytes, in: s.utf8))
                }
            }
            return { f throws(E) in
                let v = try receiver(&f)
                let a = try argument(&f)
                guard case .string(let s) = v, case .string(let needle) = a else { throw E.overload("contains", v, a) }
                try f.charge((s.utf8.count + needle.utf8.count) / 64)
                return .bool(CELOperations.find(Array(needle.utf8), in: s.utf8))
            }
        case "startsWith":
            if case .literal(.string(let prefix)) = pattern.node {
                return { f throws(E) in
                    let v = try receiver(&f)
                    guard case .string(let s) = v else { throw E.overload("startsWith", v) }
                    return .bool(CELOperations.startsWith(s, prefix))
                }
            }
            return { f throws(E) in
                let v = try receiver(&f)
                let a = try argument(&f)
                guard case .string(let s) = v, case .string(let p) = a else { throw E.overload("startsWith", v, a) }
                return .bool(CELOperations.startsWith(s, p))
            }
        case "endsWith":
            return { f throws(E) in
                let v = try receiver(&f)
                let a = try argument(&f)
                guard case .string(let s) = v, case .string(let p) = a else { throw E.overload("endsWith", v, a) }
                return .bool(CELOperations.endsWith(s, p))
            }
        default:
            if case .literal(.string(let source)) = pattern.node {
                do throws(LinearRegex.Failure) {
                    let regex = try LinearRegex(source)
                    return { f throws(E) in
                        let v = try receiver(&f)
                        guard case .string(let s) = v else { throw E.overload("matches", v) }
                        try f.charge(s.utf8.count * regex.size / 256)
                        return .bool(regex.matches(s))
                    }
                } catch {
                    diagnose(pattern.offset + 1 + error.offset, "matches(): \(error.message)")
                    let failure = E(.invalidArgument, "invalid regular expression: \(error.message)")
                    if !checked { return Self.failing(failure) }
                }
            }
            return { f throws(E) in
                let v = try receiver(&f)
                let a = try argument(&f)
                guard case .string(let s) = v, case .string(let p) = a else { throw E.overload("matches", v, a) }
                let regex: LinearRegex
                do throws(LinearRegex.Failure) { regex = try LinearRegex(p) } catch { throw E(.invalidArgument, "invalid regular expression: \(error.message)") }
                try f.charge(s.utf8.count * regex.size / 256)
                return .bool(regex.matches(s))
            }
        }
    }

    /// A macro over a list or map (`all`, `exists`, `exists_one`, `filter`, `map`), in stages: the element type of
    /// the range, the bodies compiled with the iteration variable bound, their conditions checked, then the
    /// evaluation of the macro itself.
    mutating func compileComprehension(
        _ macro: CELMacro, _ rangeExpression: CELExpression, _ variable: String, _ arguments: [CELExpression], at offset: Int
    ) -> (CELType, CELEval) {
        let (rangeType, range) = compile(rangeExpression)
        let elementType = comprehensionElementType(macro, rangeType, at: rangeExpression.offset)
        let (slot, bodies) = compileBodies(arguments, binding: variable, as: elementType)
        let predicateCount = macro == .map ? arguments.count - 1 : 1
        for (i, body) in bodies.prefix(predicateCount).enumerated() where body.0 != .bool && body.0 != .dyn {
            diagnose(arguments[i].offset, "the condition of \(macro.rawValue)() must be a bool, not \(body.0)")
        }
        let loop = Comprehension(macro: macro, range: range, slot: slot, first: bodies[0].1)
        switch macro {
        case .all, .exists: return (.bool, loop.quantifier())
        case .existsOne: return (.bool, loop.existsOne())
        case .filter: return (.list(elementType), loop.filter())
        case .map: return (.list(bodies.last!.0), loop.map(transform: bodies.last!.1, filtered: bodies.count == 2))
        }
    }

    /// What a comprehension's variable ranges over: a list's elements, a map's keys, a record's field names.
    mutating func comprehensionElementType(_ macro: CELMacro, _ rangeType: CELType, at offset: Int) -> CELType {
        switch rangeType {
        case .list(let e): return e
        case .map(let k, _): return k
        case .record: return .string
        case .dyn: return .dyn
        default:
            diagnose(offset, "\(macro.rawValue)() iterates over a list or a map, not \(rangeType)")
            return .dyn
        }
    }

    /// Compiles the macro's bodies with `variable` bound to a new slot, which is free again afterwards.
    mutating func compileBodies(_ arguments: [CELExpression], binding variable: String, as elementType: CELType)
        -> (slot: Int, bodies: [(CELType, CELEval)])
    {
        let slot = nextSlot
        nextSlot += 1
        maxSlot = max(maxSlot, nextSlot)
        locals.append((variable, slot, elementType))
        let bodies = arguments.map { compile($0) }
        locals.removeLast()
        nextSlot -= 1
        return (slot, bodies)
    }
}

/// The evaluation of one comprehension: each element of the range in the variable's slot, then the body.
struct Comprehension {
    typealias E = EvaluationError
    let macro: CELMacro
    let range: CELEval
    let slot: Int
    /// The first body: the condition (or, for a one-argument `map`, the transform).
    let first: CELEval

    /// The elements of the range value: a list's, a map's keys, a record's present field names.
    var items: @Sendable (CELValue) throws(E) -> [CELValue] {
        let macro = macro
        return { v throws(E) in
            switch v {
            case .list(let l): return l
            case .map(let m): return m.keys.map(\.value)
            case .record(let r): return r.presentFields.map { .string($0.name) }
            default: throw E.overload(macro.rawValue, v)
            }
        }
    }

    /// `all` and `exists`: stops at the first decisive element; an error on another element counts only when
    /// none decides (CEL's commutative logic), except an exhausted budget, which always stops.
    func quantifier() -> CELEval {
        let (macro, range, slot, first, items) = (macro, range, slot, first, items)
        let stopOn = macro == .exists
        return { f throws(E) in
            var pending: E? = nil
            for item in try items(try range(&f)) {
                try f.charge(1)
                f.slots[slot] = item
                do throws(E) {
                    let v = try first(&f)
                    guard case .bool(let b) = v else {
                        pending = E.overload(macro.rawValue, v)
                        continue
                    }
                    if b == stopOn { return .bool(stopOn) }
                } catch {
                    if error.code == .budgetExceeded { throw error }
                    pending = error
                }
            }
            if let pending { throw pending }
            return .bool(!stopOn)
        }
    }

    func existsOne() -> CELEval {
        let (range, slot, first, items) = (range, slot, first, items)
        return { f throws(E) in
            var count = 0
            for item in try items(try range(&f)) {
                try f.charge(1)
                f.slots[slot] = item
                let v = try first(&f)
                guard case .bool(let b) = v else { throw E.overload("exists_one", v) }
                if b { count += 1 }
            }
            return .bool(count == 1)
        }
    }

    func filter() -> CELEval {
        let (range, slot, first, items) = (range, slot, first, items)
        return { f throws(E) in
            var out: [CELValue] = []
            for item in try items(try range(&f)) {
                try f.charge(1)
                f.slots[slot] = item
                let v = try first(&f)
                guard case .bool(let b) = v else { throw E.overload("filter", v) }
                if b { out.append(item) }
            }
            return .list(out)
        }
    }

    /// `map(x, t)` or, with a filter, `map(x, p, t)`.
    func map(transform: @escaping CELEval, filtered: Bool) -> CELEval {
        let (range, slot, items) = (range, slot, items)
        let filter: CELEval? = filtered ? first : nil
        return { f throws(E) in
            var out: [CELValue] = []
            for item in try items(try range(&f)) {
                try f.charge(1)
                f.slots[slot] = item
                if let filter {
                    let v = try filter(&f)
                    guard case .bool(let b) = v else { throw E.overload("map", v) }
                    if !b { continue }
                }
                out.append(try transform(&f))
            }
            return .list(out)
        }
    }
}
