import BenCore
import BenTestKit
import Testing

/// RFC 8785's own examples: key order by UTF-16 code units, number formatting, string escaping.
@Suite struct CanonicalJSONTests {
    /// RFC 8785 §3.2.3: sorting of property names by UTF-16 code units.
    @Test func sortsMemberNamesByUTF16CodeUnitsAsRFC8785Section323() throws {
        let input = """
            {
              "\\u20ac": "Euro Sign",
              "\\r": "Carriage Return",
              "\\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\\ud83d\\ude00": "Emoji: Grinning Face",
              "\\u0080": "Control",
              "\\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """
        let value = try JSONParser.parse(input)
        guard case .object(let members) = value else {
            Issue.record("expected object")
            return
        }
        let order = members.keys.sorted(by: CanonicalJSON.utf16Precedes).map { members[$0]!.stringValue! }
        #expect(
            order == [
                "Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis", "Euro Sign",
                "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh",
            ])
    }

    /// RFC 8785 §3.2.4 / Appendix B: IEEE 754 to ECMAScript number text.
    @Test(arguments: [
        (0x0000_0000_0000_0000 as UInt64, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"),
        (0x7FEF_FFFF_FFFF_FFFF, "1.7976931348623157e+308"),
        (0xFFEF_FFFF_FFFF_FFFF, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0xC340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44B5_2D02_C7E1_4AF5, "9.999999999999997e+22"),
        (0x44B5_2D02_C7E1_4AF6, "1e+23"),
        (0x44B5_2D02_C7E1_4AF7, "1.0000000000000001e+23"),
        (0x444B_1AE4_D6E2_EF4E, "999999999999999700000"),
        (0x444B_1AE4_D6E2_EF4F, "999999999999999900000"),
        (0x444B_1AE4_D6E2_EF50, "1e+21"),
        (0x3EB0_C6F7_A0B5_ED8C, "9.999999999999997e-7"),
        (0x3EB0_C6F7_A0B5_ED8D, "0.000001"),
        (0x41B3_DE43_5555_5553, "333333333.3333332"),
        (0x41B3_DE43_5555_5554, "333333333.33333325"),
        (0x41B3_DE43_5555_5555, "333333333.3333333"),
        (0x41B3_DE43_5555_5556, "333333333.3333334"),
        (0x41B3_DE43_5555_5557, "333333333.33333343"),
        (0xBECB_F647_612F_3696, "-0.0000033333333333333333"),
        (0x4314_3FF3_C1CB_0959, "1424953923781206.2"),
    ])
    func formatsNumbersAsRFC8785AppendixB(bits: UInt64, expected: String) throws {
        #expect(try CanonicalJSON.formatNumber(Double(bitPattern: bits)) == expected)
    }

    @Test func refusesNaNAndInfinity() {
        #expect(throws: CanonicalJSONError.nonFiniteNumber) { try CanonicalJSON.formatNumber(.nan) }
        #expect(throws: CanonicalJSONError.nonFiniteNumber) { try CanonicalJSON.formatNumber(-.infinity) }
    }

    /// RFC 8785 §3.2.2.2: only `"`, `\` and control characters are escaped, controls as \b \t \n \f \r or \u00xx.
    @Test func escapesStringsAsRFC8785() throws {
        let value: JSONValue = .string("\u{20ac}$\u{0F}\nA'B\"\\\\\"/")
        #expect(try CanonicalJSON.string(value) == #""€$\u000f\nA'B\"\\\\\"/""#)
    }

    /// RFC 8785 §3.2.2 example: the whole document canonicalised.
    @Test func canonicalisesTheRFC8785Section322Example() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50,
                          2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let canonical = try CanonicalJSON.string(try JSONParser.parse(input))
        #expect(
            canonical
                == #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        )
    }

    @Test func keepsSafeIntegersExactAndRefusesUnsafeOnes() throws {
        #expect(try CanonicalJSON.string(.int(9_007_199_254_740_992)) == "9007199254740992")
        #expect(throws: CanonicalJSONError.unsafeInteger(9_007_199_254_740_993)) {
            try CanonicalJSON.encode(.int(9_007_199_254_740_993))
        }
        #expect(try CanonicalJSON.string(.double(1.0)) == CanonicalJSON.string(.int(1)))
    }

    @Test func roundTripsRandomValuesThroughParseAndCanonicalForm() throws {
        var generator = SeededGenerator(seed: 0xB3)
        for _ in 0..<500 {
            let value = randomValue(&generator, depth: 0)
            let text = try CanonicalJSON.encode(value)
            let reparsed = try JSONParser.parse(text)
            #expect(try CanonicalJSON.encode(reparsed) == text)
        }
    }

    func randomValue(_ g: inout SeededGenerator, depth: Int) -> JSONValue {
        switch g.next() % (depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(g.next() % 2 == 0)
        case 2: return .int(Int64(g.next() % 2_000_000) - 1_000_000)
        case 3: return .double(Double(bitPattern: g.next() & 0x7FEF_FFFF_FFFF_FFFF) * (g.next() % 2 == 0 ? 1 : -1))
        case 4:
            let scalars = (0..<(g.next() % 8)).map { _ in Character(Unicode.Scalar(UInt32(g.next() % 0xD000))!) }
            return .string(String(scalars))
        case 5: return .array((0..<(g.next() % 4)).map { _ in randomValue(&g, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for i in 0..<(g.next() % 4) { members["k\(i)\(g.next() % 100)"] = randomValue(&g, depth: depth + 1) }
            return .object(members)
        }
    }
}

