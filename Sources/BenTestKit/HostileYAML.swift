/// YAML texts that attack their reader, for the tests that show every reader of Ben's files refuses them.
public enum HostileYAML {
    /// The billion laughs under `key`: 9 levels of 9 aliases, 9^9 (387 million) values in about 350 bytes. Before
    /// Ben's YAML budget, `benctl build` on it grew past 600 MB in 20 s without a word (the issue's 496-byte
    /// variant reached 3 GiB in 30 s).
    public static func billionLaughs(under key: String? = nil) -> String {
        var lines = [#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]"#]
        let names = Array("abcdefghi")
        for level in 1..<names.count {
            let alias = "*\(names[level - 1])"
            lines.append("\(names[level]): &\(names[level]) [\(Array(repeating: alias, count: 9).joined(separator: ","))]")
        }
        guard let key else { return lines.joined(separator: "\n") + "\n" }
        return "\(key):\n" + lines.map { "  " + $0 }.joined(separator: "\n") + "\n"
    }

    /// The billion laughs with its top level used as a mapping key (line 11): Yams compares keys to find duplicates,
    /// which walks all 387 million values (over a minute of CPU) before any reader could look.
    public static let keyBomb = billionLaughs(under: "x") + "? *i\n: 1\n"

    /// `levels` nested flow lists: `[[[…]]]`.
    public static func nested(_ levels: Int) -> String {
        String(repeating: "[", count: levels) + String(repeating: "]", count: levels) + "\n"
    }
}
