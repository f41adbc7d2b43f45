/// SplitMix64, the planner's only source of randomness: seeded from the deployment (its version by default),
/// so the same input always gives the same plan and a new version rotates relay duty.
///
/// The planner owns its shuffles and ranks rather than using the standard library's, whose algorithms are
/// free to change between Swift releases; a plan must not change because the compiler did.
struct PlanRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    init(_ parts: UInt64...) { state = PlanRandom.mix(parts) }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.finalize(state)
    }

    /// A uniform integer in 0..<bound (bound > 0), without modulo bias.
    mutating func below(_ bound: Int) -> Int {
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let x = next()
            if x < limit { return Int(x % b) }
        }
    }

    /// Fisher–Yates over `slice`.
    mutating func shuffle(_ array: inout [Int32], _ range: Range<Int>) {
        guard range.count > 1 else { return }
        var i = range.upperBound - 1
        while i > range.lowerBound {
            let j = range.lowerBound + below(i - range.lowerBound + 1)
            array.swapAt(i, j)
            i -= 1
        }
    }

    static func finalize(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A well-mixed hash of a few integers: seeded ranks and tie-breaks.
    static func mix(_ parts: [UInt64]) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for p in parts { h = finalize(h ^ p &+ 0x9E37_79B9_7F4A_7C15) }
        return h
    }

    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        finalize(finalize(finalize(0x243F_6A88_85A3_08D3 ^ a &+ 0x9E37_79B9_7F4A_7C15) ^ b &+ 0x9E37_79B9_7F4A_7C15) ^ c &+ 0x9E37_79B9_7F4A_7C15)
    }
}
