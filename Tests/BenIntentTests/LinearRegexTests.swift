import BenIntent
import Testing

@Suite struct LinearRegexTests {
    static let cases: [(String, String, Bool)] = [
        ("abc", "xxabcxx", true),
        ("^abc$", "xxabcxx", false),
        ("^a(b|c)*d$", "abcbcd", true),
        ("^a(b|c)*d$", "abcbxd", false),
        ("colou?r", "the color red", true),
        ("^[0-9]{3}-[0-9]{4}$", "555-1234", true),
        ("^[0-9]{3}-[0-9]{4}$", "555-123", false),
        ("^[^/]+$", "no-slashes", true),
        ("^[^/]+$", "a/b", false),
        ("\\bcat\\b", "a cat sat", true),
        ("\\bcat\\b", "concatenate", false),
        ("^\\d+\\.\\d+$", "3.14", true),
        ("^\\w+@\\w+\\.com$", "ops@example.com", true),
        ("(?i)^ADMIN", "admin/panel", true),
        ("^(a|ab)(c|bcd)(d*)$", "abcd", true),
        ("^[[:alpha:]]+$", "Hello", true),
        ("^.{2,3}$", "ab", true),
        ("^.{2,3}$", "abcd", false),
        ("ñ+", "mañana", true),
        ("^$", "", true),
    ]

    @Test(arguments: cases)
    func matches(_ pattern: String, _ text: String, _ expected: Bool) throws {
        #expect(try LinearRegex(pattern).matches(text) == expected)
    }

    static let refused: [(String, String)] = [
        ("(a)\\1", "backreferences"),
        ("a(?=b)", "lookahead"),
        ("(?<=a)b", "lookbehind"),
        ("(?!a)b", "lookahead"),
        ("(?>a+)b", "atomic"),
        ("a*+", "possessive"),
        ("a{1001}", "repetition count"),
        ("(a", "missing ')'"),
        ("[a-", "missing ']'"),
    ]

    @Test(arguments: refused)
    func refusesWhatCannotRunInLinearTime(_ pattern: String, _ reason: String) {
        do {
            _ = try LinearRegex(pattern)
            Issue.record("\(pattern) was accepted")
        } catch {
            #expect(error.message.contains(reason), "\(pattern): \(error.message)")
        }
    }

    @Test func patternsThatBacktrackExponentiallyElsewhereFinish() throws {
        // (a+)+$ on "aaaa…ab" takes exponential time in backtracking engines; here it is one linear pass.
        let text = String(repeating: "a", count: 5000) + "b"
        #expect(try LinearRegex("^(a+)+$").matches(text) == false)
        #expect(try LinearRegex("(a|aa)*c").matches(text) == false)
    }
}
