/// A regular expression matched in time linear in the input (Thompson NFA simulation, as RE2 does).
///
/// The syntax is RE2's. Constructs that need backtracking, and so can take exponential time on hostile input,
/// are refused when the pattern is compiled: backreferences, lookahead and lookbehind, atomic groups,
/// possessive quantifiers, conditionals and recursion. Counted repetition is capped so a pattern cannot grow
/// into a huge program. Matching works on Unicode code points, and `matches` is a search: the pattern may
/// match anywhere in the text unless anchored with `^` or `$`.
public struct LinearRegex: Sendable {
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// Offset in the pattern, in code points.
        public var offset: Int
        public var message: String
        public var description: String { "regular expression, at character \(offset + 1): \(message)" }
    }

    public static let maxRepeat = 1000
    public static let maxInstructions = 20_000

    let program: [Instruction]
    let start: Int

    public init(_ pattern: String) throws(Failure) {
        var parser = RegexParser(Array(pattern.unicodeScalars))
        let tree = try parser.parseAll()
        var compiler = RegexCompiler()
        try compiler.emitProgram(tree)
        program = compiler.program
        start = 0
    }

    /// The number of instructions; the cost of a match is at most this times the input length.
    public var size: Int { program.count }

    /// Whether the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        let input = Array(text.unicodeScalars)
        var current = ThreadList(capacity: program.count)
        var next = ThreadList(capacity: program.count)
        var i = 0
        while true {
            // Unanchored search: a new thread starts at every position.
            addThread(&current, pc: start, at: i, input)
            if current.matched { return true }
            if i == input.count { return false }
            let c = input[i]
            next.clear()
            for pc in current.dense[0..<current.count] {
                switch program[pc] {
                case .char(let set):
                    if set.contains(c) { addThread(&next, pc: pc + 1, at: i + 1, input) }
                case .any(let newline):
                    if newline || c != "\n" { addThread(&next, pc: pc + 1, at: i + 1, input) }
                default: break
                }
            }
            if next.matched { return true }
            swap(&current, &next)
            i += 1
        }
    }

    /// Follows splits, jumps and assertions from `pc` and adds the threads that wait on a character.
    func addThread(_ list: inout ThreadList, pc start: Int, at i: Int, _ input: [Unicode.Scalar]) {
        var stack = [start]
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            switch program[pc] {
            case .match: list.matched = true
            case .jump(let target): stack.append(target)
            case .split(let a, let b):
                stack.append(b)
                stack.append(a)
            case .assert(let kind):
                if check(kind, at: i, input) { stack.append(pc + 1) }
            case .char, .any:
                list.waiting(pc)
            }
        }
    }

    func check(_ kind: Assertion, at i: Int, _ input: [Unicode.Scalar]) -> Bool {
        func isWord(_ j: Int) -> Bool {
            guard j >= 0 && j < input.count else { return false }
            let v = input[j].value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        switch kind {
        case .textStart: return i == 0
        case .textEnd: return i == input.count
        case .lineStart: return i == 0 || input[i - 1] == "\n"
        case .lineEnd: return i == input.count || input[i] == "\n"
        case .wordBoundary: return isWord(i - 1) != isWord(i)
        case .notWordBoundary: return isWord(i - 1) == isWord(i)
        }
    }
}

enum Assertion: Sendable {
    case textStart, textEnd, lineStart, lineEnd, wordBoundary, notWordBoundary
}

enum Instruction: Sendable {
    case char(CharSet)
    /// `.`; true when it also matches a newline (flag s).
    case any(Bool)
    case split(Int, Int)
    case jump(Int)
    case assert(Assertion)
    case match
}

/// A set of code points as sorted, non-overlapping ranges.
struct CharSet: Sendable {
    var ranges: [ClosedRange<UInt32>]

    func contains(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        var lo = 0
        var hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if v < ranges[mid].lowerBound { hi = mid - 1 } else if v > ranges[mid].upperBound { lo = mid + 1 } else { return true }
        }
        return false
    }

    static func normalized(_ input: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    static func negated(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for r in normalized(ranges) {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound &+ 1
            if r.upperBound == 0x10FFFF { return out }
        }
        out.append(next...0x10FFFF)
        return out
    }

    /// Adds the other case of every ASCII and simple Unicode letter, for (?i).
    static func caseFolded(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var extra: [ClosedRange<UInt32>] = []
        for r in ranges where r.count <= 4096 {
            for v in r {
                guard let s = Unicode.Scalar(v) else { continue }
                for mapped in [s.properties.lowercaseMapping, s.properties.uppercaseMapping] {
                    let scalars = Array(mapped.unicodeScalars)
                    if scalars.count == 1 && scalars[0].value != v { extra.append(scalars[0].value...scalars[0].value) }
                }
            }
        }
        return normalized(ranges + extra)
    }
}

/// A sparse set of program counters, so each state is visited once per input position.
struct ThreadList {
    var dense: [Int]
    var count = 0
    var seen: [Int]
    var seenCount = 0
    var matched = false

    init(capacity: Int) {
        dense = [Int](repeating: 0, count: capacity)
        seen = [Int](repeating: 0, count: capacity)
        seenMarks = [Int](repeating: 0, count: capacity)
    }

    var seenMarks: [Int]

    mutating func clear() {
        count = 0
        seenCount = 0
        matched = false
    }

    /// Marks `pc` visited; false if it already was at this position.
    mutating func insert(_ pc: Int) -> Bool {
        let i = seenMarks[pc]
        if i < seenCount && seen[i] == pc { return false }
        seenMarks[pc] = seenCount
        seen[seenCount] = pc
        seenCount += 1
        return true
    }

    mutating func waiting(_ pc: Int) {
        dense[count] = pc
        count += 1
    }
}
