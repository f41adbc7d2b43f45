public import BenCore
public import BenCrypto
import Dispatch

/// Signs every node's assignment for a plan (`ben/plan/v1`), on every core: each node learns from its own
/// which parents it may take, and its key travels with it for whoever connects to it.
public enum AssignmentSigner {
    /// - Parameter keys: each node's public key, from the topology.
    public static func sign(_ plan: Plan, planKey: Key, epoch: UInt64, keys: [NodeID: PublicKey], with key: SigningKey) throws(LedgerError)
        -> [SignedEnvelope]
    {
        var collected: [[UInt8]] = []
        collected.reserveCapacity(plan.nodes.count)
        for node in plan.nodes {
            guard let k = keys[node.id] else {
                throw LedgerError.configuration(
                    file: "the topology in force", detail: "no key for \(node.id), so its assignment cannot be signed; add the node's key")
            }
            collected.append(k.bytes)
        }
        let nodeKeys = collected
        let count = plan.nodes.count
        let out = UnsafeMutableBufferPointer<SignedEnvelope?>.allocate(capacity: count)
        out.initialize(repeating: nil)
        defer { out.deallocate() }
        let slices = max(1, min(count, ProcessInfoCores.count * 4))
        nonisolated(unsafe) let slots = out
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            var i = slice
            while i < count {
                slots[i] = key.envelope(plan.assignment(of: i, key: nodeKeys[i], planKey: planKey, epoch: epoch), context: .plan)
                i += slices
            }
        }
        return out.map { $0! }
    }
}
