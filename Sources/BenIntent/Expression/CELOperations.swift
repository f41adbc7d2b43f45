/// The dynamic semantics of CEL's operators on values. The compiler uses these wherever static types do not
/// allow a faster specialised path, and the specialised paths must agree with them.
enum CELOperations {
    typealias E = EvaluationError

    // MARK: Arithmetic

    /// One arithmetic operator over numbers of one kind: int and uint arms that report overflow (and a zero
    /// divisor, for `/` and `%`) as errors, and a double arm that follows IEEE 754 (absent for `%`).
    struct NumericOperator: Sendable {
        let symbol: String
        /// The error for a zero int or uint divisor; nil when the operator has no divisor.
        let byZero: E?
        let int: @Sendable (Int64, Int64) -> (partialValue: Int64, overflow: Bool)
        let uint: @Sendable (UInt64, UInt64) -> (partialValue: UInt64, overflow: Bool)
        let double: (@Sendable (Double, Double) -> Double)?

        /// The name an overload error gives: `_+_`.
        var function: String { "_\(symbol)_" }

        static let add = NumericOperator(
            symbol: "+", byZero: nil, int: { $0.addingReportingOverflow($1) }, uint: { $0.addingReportingOverflow($1) }, double: { $0 + $1 })
        static let subtract = NumericOperator(
            symbol: "-", byZero: nil, int: { $0.subtractingReportingOverflow($1) }, uint: { $0.subtractingReportingOverflow($1) },
            double: { $0 - $1 })
        static let multiply = NumericOperator(
            symbol: "*", byZero: nil, int: { $0.multipliedReportingOverflow(by: $1) }, uint: { $0.multipliedReportingOverflow(by: $1) },
            double: { $0 * $1 })
        static let divide = NumericOperator(
            symbol: "/", byZero: E(.divisionByZero, "division by zero"), int: { $0.dividedReportingOverflow(by: $1) },
            uint: { $0.dividedReportingOverflow(by: $1) }, double: { $0 / $1 })
        static let remainder = NumericOperator(
            symbol: "%", byZero: E(.moduloByZero, "modulus by zero"), int: { $0.remainderReportingOverflow(dividingBy: $1) },
            uint: { $0.remainderReportingOverflow(dividingBy: $1) }, double: nil)
    }

    /// `op` on two ints, two uints or two doubles; nil for any other pair, which the caller may still define.
    static func numeric(_ a: CELValue, _ b: CELValue, _ op: NumericOperator) throws(E) -> CELValue? {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0, let byZero = op.byZero { throw byZero }
            let (r, o) = op.int(x, y)
            if o { throw E(.overflow, "integer overflow in \(x) \(op.symbol) \(y)") }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            if y == 0, let byZero = op.byZero { throw byZero }
            let (r, o) = op.uint(x, y)
            if o { throw E(.overflow, "unsigned integer overflow in \(x)u \(op.symbol) \(y)u") }
            return .uint(r)
        case (.double(let x), .double(let y)):
            return op.double.map { .double($0(x, y)) }
        default: return nil
        }
    }

    /// Two durations combined in nanoseconds; beyond Int64 nanoseconds is an overflow.
    static func durations(
        _ x: CELDuration, _ y: CELDuration, _ combine: (Int64, Int64) -> (partialValue: Int64, overflow: Bool)
    ) throws(E) -> CELValue {
        let (nx, ox) = CELTime.nanos(x)
        let (ny, oy) = CELTime.nanos(y)
        let (r, o) = combine(nx, ny)
        if ox || oy || o { throw E(.overflow, "duration overflow") }
        return .duration(CELTime.duration(nanos: r))
    }

    static func add(_ a: CELValue, _ b: CELValue) throws(E) -> CELValue {
        if let sum = try numeric(a, b, .add) { return sum }
        switch (a, b) {
        case (.string(let x), .string(let y)): return .string(x + y)
        case (.bytes(let x), .bytes(let y)): return .bytes(x + y)
        case (.list(let x), .list(let y)): return .list(x + y)
        case (.timestamp(let t), .duration(let d)), (.duration(let d), .timestamp(let t)):
            return .timestamp(try shift(t, by: d, sign: 1))
        case (.duration(let x), .duration(let y)): return try durations(x, y) { $0.addingReportingOverflow($1) }
        default: throw E.overload(NumericOperator.add.function, a, b)
        }
    }

    static func shift(_ t: CELTimestamp, by d: CELDuration, sign: Int64) throws(E) -> CELTimestamp {
        let (delta, o1) = d.seconds.multipliedReportingOverflow(by: sign)
        var (seconds, o2) = t.seconds.addingReportingOverflow(delta)
        if o1 || o2 { throw E(.overflow, "timestamp out of range (years 1 to 9999)") }
        var nanos = Int64(t.nanos) + sign * Int64(d.nanos)
        if nanos < 0 {
            nanos += 1_000_000_000
            seconds -= 1
        } else if nanos >= 1_000_000_000 {
            nanos -= 1_000_000_000
            seconds += 1
        }
        guard seconds >= CELTimestamp.minSeconds && seconds <= CELTimestamp.maxSeconds else {
            throw E(.overflow, "timestamp out of range (years 1 to 9999)")
        }
        return CELTimestamp(seconds: seconds, nanos: Int32(nanos))
    }

    static func subtract(_ a: CELValue, _ b: CELValue) throws(E) -> CELValue {
        if let difference = try numeric(a, b, .subtract) { return difference }
        switch (a, b) {
        case (.timestamp(let t), .duration(let d)): return .timestamp(try shift(t, by: d, sign: -1))
        case (.timestamp(let x), .timestamp(let y)):
            let seconds = x.seconds - y.seconds
            let nanos = Int64(x.nanos) - Int64(y.nanos)
            let (s, o) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            let (r, o2) = s.addingReportingOverflow(nanos)
            if o || o2 { throw E(.overflow, "duration overflow") }
            return .duration(CELTime.duration(nanos: r))
        case (.duration(let x), .duration(let y)): return try durations(x, y) { $0.subtractingReportingOverflow($1) }
        default: throw E.overload(NumericOperator.subtract.function, a, b)
        }
    }

    static func multiply(_ a: CELValue, _ b: CELValue) throws(E) -> CELValue {
        if let product = try numeric(a, b, .multiply) { return product }
        throw E.overload(NumericOperator.multiply.function, a, b)
    }

    static func divide(_ a: CELValue, _ b: CELValue) throws(E) -> CELValue {
        if let quotient = try numeric(a, b, .divide) { return quotient }
        throw E.overload(NumericOperator.divide.function, a, b)
    }

    static func remainder(_ a: CELValue, _ b: CELValue) throws(E) -> CELValue {
        if let remainder = try numeric(a, b, .remainder) { return remainder }
        throw E.overload(NumericOperator.remainder.function, a, b)
    }

    static func negate(_ a: CELValue) throws(E) -> CELValue {
        switch a {
        case .int(let x):
            if x == .min { throw E(.overflow, "integer overflow in -(\(x))") }
            return .int(-x)
        case .double(let x): return .double(-x)
        case .duration(let d):
            if d.seconds == .min { throw E(.overflow, "duration overflow") }
            return .duration(CELDuration(seconds: -d.seconds, nanos: -d.nanos))
        default: throw E.overload("-_", a)
        }
    }

    // MARK: Equality and order

    static func stringsEqual(_ a: String, _ b: String) -> Bool {
        // By code points, not by Swift's canonical equivalence: CEL does not normalise strings.
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }

    /// CEL's heterogeneous equality: numbers compare by value across int, uint and double; values of different
    /// kinds are unequal (never an error).
    static func equals(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.string(let x), .string(let y)): return stringsEqual(x, y)
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.int, _), (.uint, _), (.double, _):
            return numericOrder(a, b) == 0
        case (.list(let x), .list(let y)):
            guard x.count == y.count else { return false }
            for i in x.indices where !equals(x[i], y[i]) { return false }
            return true
        case (.map, _), (.record, _):
            guard let x = mapEntries(a), let y = mapEntries(b), x.count == y.count else { return false }
            for (key, value) in x {
                guard let other = lookup(b, key), equals(value, other) else { return false }
            }
            return true
        case (.timestamp(let x), .timestamp(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        case (.type(let x), .type(let y)): return x == y
        default: return false
        }
    }

    static func mapEntries(_ v: CELValue) -> [(CELMapKey, CELValue)]? {
        switch v {
        case .map(let m): return m.entries.map { ($0.key, $0.value) }
        case .record(let r): return r.presentFields.map { (.string($0.name), $0.value) }
        default: return nil
        }
    }

    static func lookup(_ container: CELValue, _ key: CELMapKey) -> CELValue? {
        switch container {
        case .map(let m): return m[key]
        case .record(let r):
            guard case .string(let name) = key else { return nil }
            return r[name]
        default: return nil
        }
    }

    /// Compares two numbers exactly, across int, uint and double. Nil when either is not a number or a NaN is
    /// involved (every ordering with NaN is false).
    static func numericOrder(_ a: CELValue, _ b: CELValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.uint(let x), .uint(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.double(let x), .double(let y)):
            if x.isNaN || y.isNaN { return nil }
            return x < y ? -1 : (x == y ? 0 : 1)
        case (.int(let x), .uint(let y)):
            if x < 0 { return -1 }
            return UInt64(x) < y ? -1 : (UInt64(x) == y ? 0 : 1)
        case (.uint, .int): return numericOrder(b, a).map { -$0 }
        case (.int(let x), .double(let y)): return compareInt(x, y)
        case (.double, .int): return numericOrder(b, a).map { -$0 }
        case (.uint(let x), .double(let y)): return compareUInt(x, y)
        case (.double, .uint): return numericOrder(b, a).map { -$0 }
        default: return nil
        }
    }

    /// An int against a double as cel-go does it: outside the int range the double wins outright; inside,
    /// the int is converted to a double (so int64 max equals 2^63 as a double).
    static func compareInt(_ x: Int64, _ y: Double) -> Int? {
        if y.isNaN { return nil }
        if y < -9_223_372_036_854_775_808.0 { return 1 }
        if y > 9_223_372_036_854_775_808.0 { return -1 }
        let d = Double(x)
        return d < y ? -1 : (d == y ? 0 : 1)
    }

    static func compareUInt(_ x: UInt64, _ y: Double) -> Int? {
        if y.isNaN { return nil }
        if y < 0 { return 1 }
        if y > 18_446_744_073_709_551_616.0 { return -1 }
        let d = Double(x)
        return d < y ? -1 : (d == y ? 0 : 1)
    }

    static func compareBytes<C: Collection<UInt8>>(_ a: C, _ b: C) -> Int {
        if a.lexicographicallyPrecedes(b) { return -1 }
        if b.lexicographicallyPrecedes(a) { return 1 }
        return 0
    }

    /// The order of two values for `<`, `<=`, `>`, `>=`; nil means the comparison is false (NaN).
    static func order(_ a: CELValue, _ b: CELValue, _ function: String) throws(E) -> Int? {
        switch (a, b) {
        case (.int, _), (.uint, _), (.double, _):
            switch b {
            case .int, .uint, .double: return numericOrder(a, b)
            default: throw E.overload(function, a, b)
            }
        case (.string(let x), .string(let y)): return compareBytes(x.utf8, y.utf8)
        case (.bytes(let x), .bytes(let y)): return compareBytes(x, y)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.timestamp(let x), .timestamp(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.duration(let x), .duration(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        default: throw E.overload(function, a, b)
        }
    }

    // MARK: Containers

    static func contains(_ container: CELValue, _ element: CELValue) throws(E) -> Bool {
        switch container {
        case .list(let items):
            for item in items where equals(item, element) { return true }
            return false
        case .map, .record:
            guard let key = mapKey(for: element) else { return false }
            return lookup(container, key) != nil
        default: throw E.overload("@in", element, container)
        }
    }

    /// The key a value finds in a map; integral doubles find int or uint keys.
    static func mapKey(for value: CELValue) -> CELMapKey? {
        if case .double(let d) = value {
            guard d.rounded(.towardZero) == d, d.magnitude < 18_446_744_073_709_551_616.0 else { return nil }
            if d < 0 { return d >= -9_223_372_036_854_775_808.0 ? .int(Int64(d)) : nil }
            return .uint(UInt64(d))
        }
        return CELMapKey(value)
    }

    static func index(_ container: CELValue, _ key: CELValue) throws(E) -> CELValue {
        switch container {
        case .list(let items):
            let position: Int64
            switch key {
            case .int(let i): position = i
            case .uint(let u): position = u > UInt64(Int64.max) ? -1 : Int64(u)
            case .double(let d):
                guard d.rounded(.towardZero) == d, d.magnitude < 9.2e18 else {
                    throw E(.invalidArgument, "invalid_argument: list index \(d) is not an integer")
                }
                position = Int64(d)
            default: throw E(.invalidArgument, "invalid_argument: a list index must be a number, not \(key.typeName)")
            }
            guard position >= 0 && position < items.count else {
                throw E(.invalidArgument, "invalid_argument: index \(position) out of range for a list of \(items.count)")
            }
            return items[Int(position)]
        case .map, .record:
            switch key {
            case .bool, .int, .uint, .string, .double: break
            default: throw E(.invalidArgument, "invalid_argument: \(key.typeName) cannot be a map key")
            }
            guard let k = mapKey(for: key), let value = lookup(container, k) else {
                throw E(.noSuchKey, "no such key: \(describe(key))")
            }
            return value
        default: throw E.overload("_[_]", container, key)
        }
    }

    static func select(_ operand: CELValue, _ field: String) throws(E) -> CELValue {
        switch operand {
        case .record(let r):
            guard let slot = r.shape.slots[field] else {
                throw E(.noSuchField, "no such field '\(field)' in \(r.shape.name)")
            }
            guard let value = r.values[slot] else {
                throw E(.noSuchKey, "no such key: '\(field)' is absent; guard it with has()")
            }
            return value
        case .map(let m):
            guard let value = m[.string(field)] else { throw E(.noSuchKey, "no such key: '\(field)'") }
            return value
        default:
            throw E(.noSuchOverload, "no such overload: \(operand.typeName) does not support field selection ('.\(field)')")
        }
    }

    static func has(_ operand: CELValue, _ field: String) throws(E) -> Bool {
        switch operand {
        case .record(let r): return r[field] != nil
        case .map(let m): return m.contains(.string(field))
        default: throw E(.noSuchOverload, "no such overload: has() needs a map or record, not \(operand.typeName)")
        }
    }

    static func size(_ v: CELValue) throws(E) -> CELValue {
        switch v {
        case .string(let s): return .int(Int64(s.unicodeScalars.count))
        case .bytes(let b): return .int(Int64(b.count))
        case .list(let l): return .int(Int64(l.count))
        case .map(let m): return .int(Int64(m.count))
        case .record(let r): return .int(Int64(r.count))
        default: throw E.overload("size", v)
        }
    }

    static func describe(_ v: CELValue) -> String {
        switch v {
        case .string(let s): return CELPrinter.quote(s)
        case .int(let i): return String(i)
        case .uint(let u): return "\(u)u"
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        default: return v.typeName.name
        }
    }

    // MARK: Strings

    /// Substring search over UTF-8 bytes in linear time (Knuth–Morris–Pratt).
    static func find<N: RandomAccessCollection<UInt8>>(_ needle: N, in haystack: some Sequence<UInt8>) -> Bool
    where N.Index == Int {
        let m = needle.count
        if m == 0 { return true }
        var failure = [Int](repeating: 0, count: m)
        var k = 0
        for i in 1..<m {
            while k > 0 && needle[needle.startIndex + i] != needle[needle.startIndex + k] { k = failure[k - 1] }
            if needle[needle.startIndex + i] == needle[needle.startIndex + k] { k += 1 }
            failure[i] = k
        }
        var q = 0
        for byte in haystack {
            while q > 0 && byte != needle[needle.startIndex + q] { q = failure[q - 1] }
            if byte == needle[needle.startIndex + q] { q += 1 }
            if q == m { return true }
        }
        return false
    }

    static func startsWith(_ s: String, _ prefix: String) -> Bool { s.utf8.starts(with: prefix.utf8) }

    static func endsWith(_ s: String, _ suffix: String) -> Bool {
        let a = s.utf8
        let b = suffix.utf8
        guard b.count <= a.count else { return false }
        return a.dropFirst(a.count - b.count).elementsEqual(b)
    }
}
