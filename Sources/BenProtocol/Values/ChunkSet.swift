/// A set of chunk indexes of one bundle, as a bitmap: compact on the wire (a 1 GiB bundle of 1 MiB chunks is
/// 128 bytes) and cheap to test in the relay's hot path.
public struct ChunkSet: Sendable, Hashable {
    /// How many chunks the bundle has: indexes run from 0 to `count` − 1.
    public private(set) var count: Int
    private var words: [UInt64]
    /// How many chunks the set holds.
    public private(set) var cardinality: Int = 0

    /// An empty set over `count` chunks.
    public init(count: Int) {
        self.count = count
        self.words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    /// The set over `count` chunks holding every index.
    public static func full(count: Int) -> ChunkSet {
        var set = ChunkSet(count: count)
        for i in 0..<count { set.insert(i) }
        return set
    }

    /// Whether chunk `i` is in the set; an index out of range is not.
    public func contains(_ i: Int) -> Bool {
        guard i >= 0 && i < count else { return false }
        return words[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    /// Adds chunk `i` (which must be in range); returns whether it was new.
    @discardableResult
    public mutating func insert(_ i: Int) -> Bool {
        precondition(i >= 0 && i < count, "chunk index \(i) outside 0..<\(count)")
        let mask: UInt64 = 1 << UInt64(i & 63)
        if words[i >> 6] & mask != 0 { return false }
        words[i >> 6] |= mask
        cardinality += 1
        return true
    }

    /// Removes chunk `i`, if the set holds it.
    public mutating func remove(_ i: Int) {
        guard contains(i) else { return }
        words[i >> 6] &= ~(1 << UInt64(i & 63))
        cardinality -= 1
    }

    /// Whether the set holds every chunk.
    public var isComplete: Bool { cardinality == count }

    /// Indexes in ascending order.
    public var indexes: [Int] { (0..<count).filter(contains) }

    /// The bitmap as bytes, bit i of the set at byte i/8, bit i%8 (least significant first).
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: (count + 7) / 8)
        for (w, word) in words.enumerated() {
            for b in 0..<8 where w * 8 + b < out.count {
                out[w * 8 + b] = UInt8(truncatingIfNeeded: word >> UInt64(b * 8))
            }
        }
        return out
    }

    /// Reads a bitmap of `count` chunks; nil if the byte length does not match or bits beyond `count` are set.
    public init?(count: Int, bytes: [UInt8]) {
        guard count >= 0, bytes.count == (count + 7) / 8 else { return nil }
        self.init(count: count)
        for (i, byte) in bytes.enumerated() where byte != 0 {
            for b in 0..<8 where byte & (1 << b) != 0 {
                let index = i * 8 + b
                guard index < count else { return nil }
                insert(index)
            }
        }
    }
}
