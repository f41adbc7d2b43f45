/// SplitMix64: the gossip machines' only source of randomness (which member to probe, which helpers to ask, which
/// peer to exchange digests with, timer jitter). The shell passes the seed in, so a run replays exactly.
public struct GossipRandom: Sendable, Hashable {
    private var state: UInt64

    /// A generator that starts from `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator for one purpose of one node: the same seed gives each (node, purpose) its own stream.
    public init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ stream &* 0xD1B5_4A32_D192_ED03
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { Self.step(&state) }

    /// One SplitMix64 step: advances `state` and returns its next output (BenTestKit's `SeededGenerator` too).
    @inlinable
    public static func step(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0), without modulo bias.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(0)")
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        while true {
            let x = next()
            if x < limit { return Int(x % b) }
        }
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Fisher–Yates, in place.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) { array.swapAt(i, below(i + 1)) }
    }

    /// A stable 64-bit hash of a node id (FNV-1a), for seeding per-node streams; never Swift's per-process `Hasher`.
    public static func hash(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }
}
