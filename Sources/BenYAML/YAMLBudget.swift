import Yams

/// How far one YAML text may expand, the same for every reader of Ben's files (topology files, scenarios, intent
/// sources, daemon config files).
///
/// YAML aliases (`*name`) repeat the node they name, so a few hundred bytes can stand for billions of values (the
/// "billion laughs"): Yams composes that as shared copies, but a reader that walks them grows without bound. The
/// budget is checked on the composed tree before any reader sees it, and allows what a hand-written file needs
/// while keeping an alias from multiplying a text by more than a small constant:
///
/// - at most `maxDepth` levels of nesting;
/// - at most `aliasFloor` + one per `bytesPerAlias` bytes of text alias expansions (nested ones counted);
/// - at most `nodeFloor` + `nodesPerByte` per byte of text values once aliases are expanded. A text without
///   aliases never holds more than about one value per byte, so only expansion can reach this.
///
/// Mapping keys that are lists, mappings or aliases are refused before composing at all: checking a mapping for
/// duplicate keys compares whole keys, so one alias key can cost Yams minutes of work. Ben's files only ever use
/// plain keys.
public struct YAMLBudget: Sendable, Hashable {
    /// The deepest nesting allowed. Default 64 (libyaml stops at 1000 by itself).
    public var maxDepth = 64
    /// Alias expansions allowed in any text. Default 100.
    public var aliasFloor = 100
    /// One more alias expansion allowed per this many bytes of text. Default 16.
    public var bytesPerAlias = 16
    /// Values (scalars, lists, mappings, after alias expansion) allowed in any text. Default 10 000.
    public var nodeFloor = 10_000
    /// Values allowed per byte of text, beyond the floor. Default 4.
    public var nodesPerByte = 4

    public init() {}

    /// The budget every Ben reader uses.
    public static let standard = YAMLBudget()

    /// The alias expansions allowed in a text of `bytes` bytes.
    public func maxAliases(textBytes bytes: Int) -> Int { aliasFloor + bytes / max(1, bytesPerAlias) }

    /// The values allowed in a text of `bytes` bytes.
    public func maxNodes(textBytes bytes: Int) -> Int { nodeFloor + nodesPerByte * bytes }

    /// What a text exceeded.
    public enum Exceeded: Sendable, Hashable, CustomStringConvertible {
        /// More alias expansions than `limit`.
        case aliases(limit: Int)
        /// More values than `limit` once aliases are expanded.
        case nodes(limit: Int)
        /// Nested deeper than `limit` levels.
        case depth(limit: Int)
        /// A mapping key that is a list, a mapping or an alias.
        case complexKey

        /// What the text does, in one phrase.
        public var problem: String {
            switch self {
            case .aliases(let limit):
                "the YAML expands more than \(limit) aliases (*name), more than Ben allows for a text this size (an alias bomb?)"
            case .nodes(let limit):
                "the YAML holds more than \(limit) values once its aliases (*name) are expanded, more than Ben allows for a text this size (an alias bomb?)"
            case .depth(let limit):
                "the YAML nests deeper than \(limit) levels, more than Ben allows"
            case .complexKey:
                "a mapping key here is a list, a mapping or an alias, which Ben's files never use"
            }
        }

        /// What to do about it.
        public var fix: String {
            switch self {
            case .aliases, .nodes: "write the values out instead of aliasing them"
            case .depth: "flatten it"
            case .complexKey: "write plain keys (`name: value`)"
            }
        }

        public var description: String { "\(problem); \(fix)" }
    }

    /// Composes one document under this budget; nil for an empty text.
    func compose(_ text: String, resolver: Resolver) throws(YAMLSyntaxError) -> Yams.Node? {
        try screen(text)
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text, resolver)
        } catch {
            throw YAMLSyntaxError(error)
        }
        if let root {
            var meter = Meter(budget: self, textBytes: text.utf8.count)
            try meter.measure(root)
        }
        return root
    }

    /// Composes every document of a text under this budget (one budget for the whole text).
    func composeAll(_ text: String) throws(YAMLSyntaxError) -> [Yams.Node] {
        try screen(text)
        var out: [Yams.Node] = []
        do {
            // compose_all's sequence stops at a parse error and keeps it for the caller to check.
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() { out.append(node) }
            if let error = sequence.error { throw YAMLSyntaxError(error) }
        } catch let error as YAMLSyntaxError {
            throw error
        } catch {
            throw YAMLSyntaxError(error)
        }
        var meter = Meter(budget: self, textBytes: text.utf8.count)
        for root in out { try meter.measure(root) }
        return out
    }

    /// Refuses a text with a complex mapping key, before Yams composes it.
    func screen(_ text: String) throws(YAMLSyntaxError) {
        if let (line, column) = ComplexKeyScanner.firstComplexKey(in: text) {
            throw YAMLSyntaxError(.complexKey, line: line, column: column)
        }
    }
}

/// Walks a composed tree in document order, counting values, depth and alias expansions.
///
/// Yams replaces an alias by the node it names, with that node's own position, so an expansion shows as a node
/// that starts before the text already walked: the walk keeps a cursor (the position of the last node visited in
/// the text it is reading) and counts each node found before it as one expansion, whose copy it then walks from
/// the anchor's position on, so nested aliases are counted too. A refusal inside an expansion names where the
/// outermost alias was written (the node it follows), not the anchor.
struct Meter {
    typealias Position = (line: Int, column: Int)
    let maxAliases: Int
    let maxNodes: Int
    let maxDepth: Int
    var nodes = 0
    var aliases = 0
    var cursor: Position = (0, 0)
    /// Where the outermost expansion being walked was written.
    var site: Position?

    init(budget: YAMLBudget, textBytes: Int) {
        maxAliases = budget.maxAliases(textBytes: textBytes)
        maxNodes = budget.maxNodes(textBytes: textBytes)
        maxDepth = budget.maxDepth
    }

    mutating func measure(_ root: Yams.Node) throws(YAMLSyntaxError) {
        cursor = (0, 0)
        site = nil
        try visit(root, depth: 1)
    }

    private func refuse(_ exceeded: YAMLBudget.Exceeded, at mark: Position) -> YAMLSyntaxError {
        let at = site ?? mark
        return YAMLSyntaxError(exceeded, line: at.line, column: at.column)
    }

    private mutating func visit(_ node: Yams.Node, depth: Int) throws(YAMLSyntaxError) {
        let mark: Position = (node.line, node.column)
        let expansion = mark.line > 0 && mark < cursor
        let outer = cursor
        let outermost = expansion && site == nil
        if outermost { site = outer }
        nodes += 1
        guard nodes <= maxNodes else { throw refuse(.nodes(limit: maxNodes), at: mark) }
        guard depth <= maxDepth else { throw refuse(.depth(limit: maxDepth), at: mark) }
        if expansion {
            aliases += 1
            guard aliases <= maxAliases else { throw refuse(.aliases(limit: maxAliases), at: mark) }
        }
        if mark.line > 0 { cursor = mark }
        switch node {
        case .scalar, .alias:
            break
        case .sequence(let sequence):
            for child in sequence { try visit(child, depth: depth + 1) }
        case .mapping(let mapping):
            for (key, value) in mapping {
                try visit(key, depth: depth + 1)
                try visit(value, depth: depth + 1)
            }
        }
        // After an expansion the text goes on where the alias was written.
        if expansion { cursor = outer }
        if outermost { site = nil }
    }
}

/// Finds a mapping key that is not a scalar (`? key`, `[a, b]: v`, `{a: b}: v`, `*alias : v`) without composing
/// the text, by reading it the way libyaml's scanner starts tokens: quoted strings, comments, block scalars and the
/// continuation lines of plain scalars are text and are skipped.
///
/// It errs towards finding one (a key-like pattern in an unusual place), never towards missing one that Yams would
/// compose as a complex key.
enum ComplexKeyScanner {
    static func firstComplexKey(in text: String) -> (line: Int, column: Int)? {
        var scanner = State(bytes: Array(text.utf8))
        return scanner.run()
    }

    private struct State {
        let bytes: [UInt8]
        var i = 0
        var line = 1
        var lineStart = 0
        /// Open `[` and `{`, with where each opened.
        var flow: [(line: Int, column: Int)] = []
        /// While set, whole lines indented more than this column (0-based), and blank lines, are text: a block
        /// scalar's or a plain scalar's continuation.
        var textAbove: Int?

        init(bytes: [UInt8]) { self.bytes = bytes }

        var column: Int { i - lineStart + 1 }
        func at(_ offset: Int) -> UInt8 { i + offset < bytes.count ? bytes[i + offset] : 0 }
        static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0 }
        static func isBreak(_ c: UInt8) -> Bool { c == 0x0A || c == 0x0D || c == 0 }
        static func isFlowIndicator(_ c: UInt8) -> Bool {
            c == UInt8(ascii: ",") || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: "{") || c == UInt8(ascii: "}")
        }
        static func isAnchorCharacter(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "-")
                || c == UInt8(ascii: "_")
        }

        /// A `:` that indicates a mapping value here.
        func isValueIndicator(_ offset: Int) -> Bool {
            guard at(offset) == UInt8(ascii: ":") else { return false }
            let next = at(offset + 1)
            return Self.isBlank(next) || (!flow.isEmpty && Self.isFlowIndicator(next))
        }

        /// Moves past a line break, to the start of the next line.
        mutating func newLine() {
            if at(0) == 0x0D && at(1) == 0x0A { i += 1 }
            i += 1
            line += 1
            lineStart = i
        }

        mutating func skipToEndOfLine() { while !Self.isBreak(at(0)) { i += 1 } }

        /// Skips spaces and tabs.
        mutating func skipSpaces() { while at(0) == 0x20 || at(0) == 0x09 { i += 1 } }

        /// After the token that ended at `i`: spaces, then a value indicator?
        func followedByValueIndicator() -> Bool {
            var j = 0
            while at(j) == 0x20 || at(j) == 0x09 { j += 1 }
            return isValueIndicator(j)
        }

        mutating func run() -> (line: Int, column: Int)? {
            if at(0) == 0xEF && at(1) == 0xBB && at(2) == 0xBF { i = 3; lineStart = 3 }
            while i < bytes.count {
                // At the start of a line.
                var indent = 0
                while at(indent) == 0x20 { indent += 1 }
                let blank = Self.isBreak(at(indent)) || at(indent) == UInt8(ascii: "#")
                if let above = textAbove, flow.isEmpty {
                    if blank || indent > above {
                        skipToEndOfLine()
                        if i < bytes.count { newLine() }
                        continue
                    }
                    textAbove = nil
                }
                if let found = scanLine(indent: indent) { return found }
                if i < bytes.count { newLine() }
            }
            return nil
        }

        /// Reads the tokens of one line (and of the lines a quoted string runs over).
        mutating func scanLine(indent: Int) -> (line: Int, column: Int)? {
            // The column (0-based) of the innermost block node begun on this line: a key or a `-`.
            var parent = indent
            while true {
                skipSpaces()
                let c = at(0)
                if Self.isBreak(c) { return nil }
                let start = (line: line, column: column)
                switch c {
                case UInt8(ascii: "#"):
                    skipToEndOfLine()
                    return nil
                case UInt8(ascii: "\""), UInt8(ascii: "'"):
                    skipQuoted(c)
                    // A quoted key is a scalar key; what follows is its value.
                    if followedByValueIndicator() {
                        parent = start.column - 1
                        skipSpaces()
                        i += 1
                    }
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    flow.append(start)
                    i += 1
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    i += 1
                    let opened = flow.popLast()
                    if let opened, followedByValueIndicator() { return opened }
                case UInt8(ascii: ","):
                    i += 1
                case UInt8(ascii: "*") where Self.isAnchorCharacter(at(1)):
                    i += 1
                    while Self.isAnchorCharacter(at(0)) { i += 1 }
                    if followedByValueIndicator() { return start }
                case UInt8(ascii: "&") where Self.isAnchorCharacter(at(1)):
                    i += 1
                    while Self.isAnchorCharacter(at(0)) { i += 1 }
                case UInt8(ascii: "!"):
                    while !Self.isBlank(at(0)) && !(flow.count > 0 && Self.isFlowIndicator(at(0))) { i += 1 }
                case UInt8(ascii: "?") where Self.isBlank(at(1)) || (!flow.isEmpty && Self.isFlowIndicator(at(1))):
                    return start
                case UInt8(ascii: "-") where Self.isBlank(at(1)) && flow.isEmpty:
                    parent = start.column - 1
                    i += 1
                case UInt8(ascii: ":") where isValueIndicator(0):
                    i += 1
                case UInt8(ascii: "|") where flow.isEmpty, UInt8(ascii: ">") where flow.isEmpty:
                    // A block scalar: its lines are text, down to the first line not indented past its parent.
                    textAbove = parent
                    skipToEndOfLine()
                    return nil
                case UInt8(ascii: "-") where column == 1 && at(1) == c && at(2) == c && Self.isBlank(at(3)),
                    UInt8(ascii: ".") where column == 1 && at(1) == c && at(2) == c && Self.isBlank(at(3)):
                    i += 3
                case UInt8(ascii: "%") where column == 1:
                    skipToEndOfLine()
                    return nil
                default:
                    // A plain scalar: to a value indicator (it was a key), a comment or the end of the line (in a
                    // flow collection, also to an indicator). Lines after it indented past its parent continue it.
                    let keyColumn = start.column - 1
                    while true {
                        let d = at(0)
                        if Self.isBreak(d) { break }
                        if isValueIndicator(0) { break }
                        if (d == 0x20 || d == 0x09) && at(1) == UInt8(ascii: "#") { break }
                        if !flow.isEmpty && Self.isFlowIndicator(d) { break }
                        i += 1
                    }
                    if isValueIndicator(0) {
                        parent = keyColumn
                        i += 1
                    } else if flow.isEmpty {
                        textAbove = parent
                    }
                }
            }
        }

        /// Skips a quoted string, over lines if it runs over them.
        mutating func skipQuoted(_ quote: UInt8) {
            i += 1
            while i < bytes.count {
                let c = at(0)
                if quote == UInt8(ascii: "\"") && c == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if c == quote {
                    if quote == UInt8(ascii: "'") && at(1) == quote {
                        i += 2
                        continue
                    }
                    i += 1
                    return
                }
                if c == 0x0A || c == 0x0D {
                    newLine()
                    continue
                }
                i += 1
            }
        }
    }
}
