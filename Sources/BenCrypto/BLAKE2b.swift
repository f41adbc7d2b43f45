public import BenCore
import CSodium

/// BLAKE2b-256, the hash behind every key (DESIGN §1). Same output as `b2sum -l 256`.
public enum BLAKE2b {
    public static let digestBytes = 32

    /// The key of `bytes`.
    public static func key(of bytes: [UInt8]) -> Key {
        bytes.withUnsafeBytes { key(of: $0) }
    }

    public static func key(of bytes: ArraySlice<UInt8>) -> Key {
        bytes.withUnsafeBytes { key(of: $0) }
    }

    /// Key of an in-memory buffer, without copying.
    public static func key(of buffer: UnsafeRawBufferPointer) -> Key {
        Sodium.ensure()
        var out = [UInt8](repeating: 0, count: digestBytes)
        _ = crypto_generichash(&out, digestBytes, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(buffer.count), nil, 0)
        return Key(digest: out)
    }

    /// The key of a document's canonical bytes.
    public static func key(of document: some CanonicalDocument) -> Key {
        key(of: document.canonicalBytes)
    }
}

/// BLAKE2b-256 over a stream of pieces, for files and artifacts too large to hold at once.
///
/// libsodium's state must be 64-byte aligned and must not move, so it lives in its own allocation.
public struct BLAKE2bHasher: ~Copyable {
    private let state: UnsafeMutableRawPointer
    private var finished = false

    public init() {
        Sodium.ensure()
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        _ = crypto_generichash_init(OpaquePointer(state), nil, 0, BLAKE2b.digestBytes)
    }

    deinit { state.deallocate() }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        precondition(!finished, "update after finalize")
        guard buffer.count > 0 else { return }
        _ = crypto_generichash_update(
            OpaquePointer(state),
            buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(buffer.count))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The key of everything hashed so far; the hasher takes no more input after this.
    public mutating func finish() -> Key {
        precondition(!finished, "finish called twice")
        var out = [UInt8](repeating: 0, count: BLAKE2b.digestBytes)
        _ = crypto_generichash_final(OpaquePointer(state), &out, BLAKE2b.digestBytes)
        finished = true
        return Key(digest: out)
    }

    public consuming func finalize() -> Key {
        var out = [UInt8](repeating: 0, count: BLAKE2b.digestBytes)
        _ = crypto_generichash_final(OpaquePointer(state), &out, BLAKE2b.digestBytes)
        finished = true
        return Key(digest: out)
    }
}
