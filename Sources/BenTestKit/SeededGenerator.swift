import BenProtocol

/// SplitMix64 (the gossip machines' `GossipRandom.step`): a small, fast, seedable generator for property tests
/// and fixtures. Tests print the seed when they fail, so any failure replays exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 { GossipRandom.step(&state) }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            var word = next()
            withUnsafeBytes(of: &word) { out.append(contentsOf: $0) }
        }
        out.removeLast(out.count - count)
        return out
    }
}
