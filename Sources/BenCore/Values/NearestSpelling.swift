/// "Did you mean …?": the known word nearest to a mistyped one, for every place a person types a name Ben knows
/// (benctl's verbs and flags, config file keys).
public enum NearestSpelling {
    /// The nearest of `candidates` to `word` (case-insensitive edit distance, a swap of two neighbours counting as
    /// one edit), or nil if none is close enough to be a plausible typo: within a third of the word's length, and
    /// never more than 3 edits.
    public static func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
        let typed = Array(word.lowercased())
        guard !typed.isEmpty else { return nil }
        let limit = min(3, max(1, typed.count / 3))
        var best: (word: String, distance: Int)?
        for candidate in candidates {
            let d = distance(typed, Array(candidate.lowercased()))
            if d <= limit, best == nil || d < best!.distance { best = (candidate, d) }
        }
        if best == nil {
            // A typed prefix long enough to mean one thing: `deplo` → `deploy`.
            let matches = candidates.filter { $0.lowercased().hasPrefix(word.lowercased()) }
            if typed.count >= 3, matches.count == 1 { return matches[0] }
        }
        return best?.word
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
