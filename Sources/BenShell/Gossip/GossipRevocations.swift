public import BenCore
import BenCrypto
public import BenProtocol

/// The ledger's revocations as gossip carries them: each signed envelope a document named by its key, and the set's
/// digest (`RevocationDigest`: the count, and the key of the ids sorted and concatenated). The agent and the ledger
/// hand both to their gossip machine with the version state; hashing is the shell's part.
public enum GossipRevocations {
    /// The documents and digest of the revocations kept as `envelopes` (their canonical bytes); no digest when
    /// there are none.
    public static func state(_ envelopes: [[UInt8]]) -> (documents: [GossipDocument], digest: RevocationDigest?) {
        let documents = envelopes.map { GossipDocument(id: BLAKE2b.key(of: $0), kind: .revocation, bytes: $0) }
        return (documents, digest(of: documents.map(\.id)))
    }

    /// The digest of a set of revocation document ids; nil for none.
    public static func digest(of ids: [Key]) -> RevocationDigest? {
        let sorted = Set(ids).sorted()
        guard !sorted.isEmpty else { return nil }
        return RevocationDigest(count: UInt32(sorted.count), hash: BLAKE2b.key(of: sorted.flatMap(\.bytes)))
    }
}
