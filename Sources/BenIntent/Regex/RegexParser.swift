/// A parsed regular expression.
indirect enum RegexNode: Sendable {
    case empty
    case set([ClosedRange<UInt32>])
    case any(Bool)
    case concat([RegexNode])
    case alternate([RegexNode])
    case `repeat`(RegexNode, min: Int, max: Int?)
    case assert(Assertion)
}

/// Parses RE2 syntax and refuses what cannot run in linear time.
struct RegexParser {
    let p: [Unicode.Scalar]
    var i = 0
    var caseInsensitive = false
    var dotAll = false
    var multiLine = false
    var depth = 0

    init(_ pattern: [Unicode.Scalar]) { p = pattern }

    typealias Failure = LinearRegex.Failure

    func fail(_ message: String, at offset: Int? = nil) -> Failure { Failure(offset: offset ?? i, message: message) }

    var atEnd: Bool { i >= p.count }
    func peek(_ k: Int = 0) -> Unicode.Scalar? { i + k < p.count ? p[i + k] : nil }

    mutating func parseAll() throws(Failure) -> RegexNode {
        let node = try parseAlternation()
        if !atEnd { throw fail("unmatched ')'") }
        return node
    }

    mutating func parseAlternation() throws(Failure) -> RegexNode {
        var branches = [try parseConcat()]
        while peek() == "|" {
            i += 1
            branches.append(try parseConcat())
        }
        return branches.count == 1 ? branches[0] : .alternate(branches)
    }

    mutating func parseConcat() throws(Failure) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != "|", c != ")" {
            let atomStart = i
            var atom = try parseAtom()
            atom = try parseQuantifiers(atom, atomStart: atomStart)
            items.append(atom)
        }
        if items.isEmpty { return .empty }
        return items.count == 1 ? items[0] : .concat(items)
    }

    mutating func parseQuantifiers(_ node: RegexNode, atomStart: Int) throws(Failure) -> RegexNode {
        var node = node
        var quantified = false
        while let c = peek() {
            var min = 0
            var max: Int? = nil
            let start = i
            switch c {
            case "*": i += 1
            case "+": i += 1; min = 1
            case "?": i += 1; max = 1
            case "{":
                guard let counted = try parseCount() else { return node }
                (min, max) = counted
            default: return node
            }
            if quantified { throw fail("a quantifier cannot follow another quantifier", at: start) }
            if case .assert = node { throw fail("an anchor cannot be repeated", at: start) }
            if peek() == "+" { throw fail("possessive quantifiers (such as *+) are not supported: they need backtracking", at: i) }
            if peek() == "?" { i += 1 }  // lazy: the same language, so the same answer for a match test
            node = .repeat(node, min: min, max: max)
            quantified = true
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`; nil (and no input used) if the brace is not a repetition, as in RE2.
    mutating func parseCount() throws(Failure) -> (Int, Int?)? {
        let save = i
        i += 1
        func number() -> Int? {
            var v = 0
            var any = false
            while let c = peek(), c.value >= 0x30 && c.value <= 0x39 {
                v = min(v * 10 + Int(c.value - 0x30), 100_000)
                any = true
                i += 1
            }
            return any ? v : nil
        }
        guard let lo = number() else { i = save; return nil }
        var hi: Int? = lo
        if peek() == "," {
            i += 1
            hi = number()
        }
        guard peek() == "}" else { i = save; return nil }
        i += 1
        if lo > LinearRegex.maxRepeat || (hi ?? 0) > LinearRegex.maxRepeat {
            throw fail("repetition count above \(LinearRegex.maxRepeat)", at: save)
        }
        if let hi, hi < lo { throw fail("repetition {\(lo),\(hi)} has its bounds reversed", at: save) }
        return (lo, hi)
    }

    mutating func parseAtom() throws(Failure) -> RegexNode {
        let c = p[i]
        switch c {
        case "(":
            return try parseGroup()
        case "[":
            return .set(try parseClass())
        case ".":
            i += 1
            return .any(dotAll)
        case "^":
            i += 1
            return .assert(multiLine ? .lineStart : .textStart)
        case "$":
            i += 1
            return .assert(multiLine ? .lineEnd : .textEnd)
        case "\\":
            return try parseEscape(inClass: false)
        case "*", "+", "?":
            throw fail("'\(c)' has nothing to repeat")
        default:
            i += 1
            return .set(literal(c.value))
        }
    }

    func literal(_ v: UInt32) -> [ClosedRange<UInt32>] {
        caseInsensitive ? CharSet.caseFolded([v...v]) : [v...v]
    }

    mutating func parseGroup() throws(Failure) -> RegexNode {
        let open = i
        i += 1
        depth += 1
        defer { depth -= 1 }
        if depth > 100 { throw fail("groups nested deeper than 100", at: open) }
        let saved = (caseInsensitive, dotAll, multiLine)
        if peek() == "?" {
            i += 1
            guard let c = peek() else { throw fail("unterminated group", at: open) }
            switch c {
            case "=", "!": throw fail("lookahead (?\(c)…) is not supported: it cannot run in linear time", at: open)
            case ">": throw fail("atomic groups (?>…) are not supported", at: open)
            case "(": throw fail("conditionals (?(…)…) are not supported", at: open)
            case "R", "0"..."9", "&": throw fail("recursion is not supported", at: open)
            case "<" where peek(1) == "=" || peek(1) == "!":
                throw fail("lookbehind (?<\(peek(1)!)…) is not supported: it cannot run in linear time", at: open)
            case "P", "<":
                // A named group: (?P<name>…) or (?<name>…). Names do not matter for a match test.
                if c == "P" { i += 1 }
                guard peek() == "<" else { throw fail("expected '<' in a named group", at: open) }
                while let d = peek(), d != ">" { i += 1 }
                guard peek() == ">" else { throw fail("unterminated group name", at: open) }
                i += 1
            default:
                // Flags: (?i) (?s) (?m) (?U), optionally negated, alone or scoping a group (?i:…).
                var negate = false
                while let f = peek(), f != ")" && f != ":" {
                    switch f {
                    case "-": negate = true
                    case "i": caseInsensitive = !negate
                    case "s": dotAll = !negate
                    case "m": multiLine = !negate
                    case "U": break
                    default: throw fail("unknown flag '\(f)' in a group", at: i)
                    }
                    i += 1
                }
                guard let end = peek() else { throw fail("unterminated group", at: open) }
                i += 1
                if end == ")" { return .empty }  // flags apply to the rest of the enclosing group
            }
        }
        let inner = try parseAlternation()
        guard peek() == ")" else { throw fail("missing ')'", at: open) }
        i += 1
        (caseInsensitive, dotAll, multiLine) = saved
        return inner
    }

    static let digit: [ClosedRange<UInt32>] = [0x30...0x39]
    static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
    static let space: [ClosedRange<UInt32>] = [0x09...0x0A, 0x0C...0x0D, 0x20...0x20]

    mutating func parseEscape(inClass: Bool) throws(Failure) -> RegexNode {
        let start = i
        i += 1
        guard let c = peek() else { throw fail("trailing backslash", at: start) }
        i += 1
        switch c {
        case "d": return .set(Self.digit)
        case "D": return .set(CharSet.negated(Self.digit))
        case "w": return .set(Self.word)
        case "W": return .set(CharSet.negated(Self.word))
        case "s": return .set(Self.space)
        case "S": return .set(CharSet.negated(Self.space))
        case "n": return .set([0x0A...0x0A])
        case "t": return .set([0x09...0x09])
        case "r": return .set([0x0D...0x0D])
        case "f": return .set([0x0C...0x0C])
        case "v": return .set([0x0B...0x0B])
        case "a": return .set([0x07...0x07])
        case "A" where !inClass: return .assert(.textStart)
        case "z" where !inClass: return .assert(.textEnd)
        case "b" where !inClass: return .assert(.wordBoundary)
        case "B" where !inClass: return .assert(.notWordBoundary)
        case "1"..."9":
            throw fail("backreferences (\\\(c)) are not supported: they cannot run in linear time", at: start)
        case "k", "g":
            throw fail("backreferences (\\\(c)) are not supported: they cannot run in linear time", at: start)
        case "x":
            var value: UInt32 = 0
            if peek() == "{" {
                i += 1
                var count = 0
                while let d = peek(), d != "}" {
                    guard let h = UInt32(String(d), radix: 16) else {
                        throw fail("bad hexadecimal digit in \\x{…}", at: i)
                    }
                    value = value * 16 + h
                    count += 1
                    i += 1
                    if count > 6 { throw fail("\\x{…} is too long", at: start) }
                }
                guard peek() == "}" else { throw fail("unterminated \\x{…}", at: start) }
                i += 1
            } else {
                for _ in 0..<2 {
                    guard let d = peek(), let h = UInt32(String(d), radix: 16) else {
                        throw fail("\\x needs two hexadecimal digits", at: start)
                    }
                    value = value * 16 + h
                    i += 1
                }
            }
            guard value <= 0x10FFFF else { throw fail("code point beyond U+10FFFF", at: start) }
            return .set(literal(value))
        case "p", "P":
            throw fail("Unicode classes (\\\(c){…}) are not supported; spell out the characters", at: start)
        case "C", "Z", "G", "X", "Q", "E":
            throw fail("\\\(c) is not supported", at: start)
        default:
            let v = c.value
            let isAlnum = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
            if isAlnum { throw fail("unknown escape \\\(c)", at: start) }
            return .set(literal(v))
        }
    }

    static let posixClasses: [String: [ClosedRange<UInt32>]] = [
        "alpha": [0x41...0x5A, 0x61...0x7A], "digit": digit, "alnum": [0x30...0x39, 0x41...0x5A, 0x61...0x7A],
        "space": [0x09...0x0D, 0x20...0x20], "upper": [0x41...0x5A], "lower": [0x61...0x7A],
        "punct": [0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E], "xdigit": [0x30...0x39, 0x41...0x46, 0x61...0x66],
        "word": word, "blank": [0x09...0x09, 0x20...0x20], "cntrl": [0x00...0x1F, 0x7F...0x7F],
        "print": [0x20...0x7E], "graph": [0x21...0x7E], "ascii": [0x00...0x7F],
    ]

    mutating func parseClass() throws(Failure) -> [ClosedRange<UInt32>] {
        let open = i
        i += 1
        var negated = false
        if peek() == "^" {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard let c = peek() else { throw fail("missing ']'", at: open) }
            if c == "]" && !first {
                i += 1
                break
            }
            first = false
            if c == "[" && peek(1) == ":" {
                let nameStart = i + 2
                var j = nameStart
                while j < p.count && p[j] != ":" { j += 1 }
                var name = String(String.UnicodeScalarView(p[nameStart..<min(j, p.count)]))
                var negatedPosix = false
                if name.hasPrefix("^") {
                    negatedPosix = true
                    name.removeFirst()
                }
                guard j + 1 < p.count, p[j + 1] == "]", let set = Self.posixClasses[name] else {
                    throw fail("unknown character class [:\(name):]", at: i)
                }
                ranges += negatedPosix ? CharSet.negated(set) : set
                i = j + 2
                continue
            }
            var low: UInt32
            if c == "\\" {
                let escape = try parseEscape(inClass: true)
                guard case .set(let set) = escape else { throw fail("an anchor cannot stand in a character class", at: i) }
                if set.count != 1 || set[0].count != 1 {
                    ranges += set
                    continue
                }
                low = set[0].lowerBound
            } else {
                low = c.value
                i += 1
            }
            if peek() == "-", let next = peek(1), next != "]" {
                i += 1
                var high: UInt32
                if next == "\\" {
                    let escape = try parseEscape(inClass: true)
                    guard case .set(let set) = escape, set.count == 1, set[0].count == 1 else {
                        throw fail("a range must end in a single character", at: i)
                    }
                    high = set[0].lowerBound
                } else {
                    high = next.value
                    i += 1
                }
                guard low <= high else { throw fail("character range is out of order", at: i) }
                ranges.append(low...high)
            } else {
                ranges.append(low...low)
            }
        }
        if caseInsensitive { ranges = CharSet.caseFolded(ranges) }
        let normalized = CharSet.normalized(ranges)
        return negated ? CharSet.negated(normalized) : normalized
    }
}
