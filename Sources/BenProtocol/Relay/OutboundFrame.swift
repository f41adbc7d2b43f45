public import BenCore

/// A frame as a machine asks for it; the shell fills in bytes from its store and the signed documents it holds.
public enum OutboundFrame: Sendable, Hashable {
    case hello(Hello)
    case plan(Subtree)
    case manifest(Key)
    case chunk(index: Int, key: Key)
    case ack(Aggregate)
    case nack([NackEntry])
    case bye(ByeCode, String)

    /// Whether the frame is a chunk.
    public var isChunk: Bool {
        if case .chunk = self { true } else { false }
    }

    /// Chunks and the manifest: bytes read from the store, useless to a link that is closing.
    public var isBulk: Bool {
        switch self {
        case .chunk, .manifest: true
        default: false
        }
    }
}
