public import BenCore
public import BenCrypto
public import BenProtocol
public import BenStore
public import NIOCore
import Synchronization

/// Turns the frames a machine asks for into the frames a link writes, for both shells (issue 12's CPU work and
/// issue 14's one shell): documents are encoded, chunks and the manifest come from the store, verified on read.
///
/// A relay forwards each chunk, cut-through, to every child in its stripe moments after it stored it; reading
/// it back and hashing it again for each child was most of a relay's CPU. So chunks this process has just
/// verified (received and hashed, or read and hashed once) are kept in a small cache, bounded in bytes, and
/// served from there as they are: no read, no second hash, no copy.
public final class FrameMaterializer: Sendable {
    private struct Cache {
        var chunks: [Key: ByteBuffer] = [:]
        /// Keys from oldest to newest use.
        var order: [Key] = []
        var bytes = 0
    }

    private let store: ChunkStore
    private let capacity: Int
    private let cache = Mutex(Cache())
    private let signer: SigningKey?

    /// - Parameters:
    ///   - cacheBytes: how many bytes of verified chunks to keep (a few chunks per child link).
    ///   - signer: the node key that signs the aggregates this process sends (`ben/aggregate/v1`).
    public init(store: ChunkStore, cacheBytes: Int = 16 << 20, signer: SigningKey? = nil) {
        self.store = store
        capacity = cacheBytes
        self.signer = signer
    }

    /// An aggregate as it goes out: signed by this node when it has a key (the ledger sends none).
    public func aggregateBytes(_ aggregate: Aggregate) -> [UInt8] {
        signer.map { $0.envelope(aggregate, context: .aggregate).canonicalBytes } ?? aggregate.canonicalBytes
    }

    /// Keeps a chunk this process has just verified against its key.
    public func remember(_ key: Key, _ bytes: ByteBuffer) {
        guard bytes.readableBytes <= capacity else { return }
        cache.withLock { cache in
            if cache.chunks.updateValue(bytes, forKey: key) == nil {
                cache.bytes += bytes.readableBytes
            } else {
                cache.order.removeAll { $0 == key }
            }
            cache.order.append(key)
            while cache.bytes > capacity, let oldest = cache.order.first {
                cache.order.removeFirst()
                cache.bytes -= cache.chunks.removeValue(forKey: oldest)?.readableBytes ?? 0
            }
        }
    }

    /// A verified chunk's bytes: from the cache, or read from the store (verified on read) and kept.
    public func chunk(_ key: Key) throws -> ByteBuffer {
        if let cached = cache.withLock({ $0.chunks[key] }) { return cached }
        let bytes = ByteBuffer(bytes: try store.get(key))
        remember(key, bytes)
        return bytes
    }

    public func frame(_ frame: OutboundFrame, header: FrameHeader) throws -> PeerFrame {
        switch frame {
        case .hello(let hello): .hello(hello)
        case .plan(let subtree): .plan(header, subtree: subtree.canonicalBytes)
        case .manifest(let key): .manifest(header, bytes: try store.get(key))
        case .chunk(let index, let key): .chunk(header, index: UInt32(index), key: key, bytes: try chunk(key))
        case .ack(let aggregate): .ack(header, aggregate: aggregateBytes(aggregate))
        case .nack(let entries): .nack(header, entries)
        case .bye(let code, let reason): .bye(header, code: code, reason: reason)
        }
    }
}
