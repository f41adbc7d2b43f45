public import BenCore
public import BenCrypto
public import BenProtocol
import Dispatch
import Glibc

/// Checks every signed ack in an aggregate against the key the topology lists for its node, on every core.
///
/// Pure arithmetic over immutable inputs, so it runs off the ledger's actor: a 10 000-ack aggregate is split
/// into slices verified in parallel, and the deployment machine then sees only acks that verified.
public enum AckVerifier {
    public struct Outcome: Sendable {
        /// Acks whose signature verified, with the envelope bytes to keep as proof.
        public var verified: [(ack: Ack, envelope: [UInt8])]
        /// Envelopes that did not verify, with why (for the log).
        public var rejected: [(node: NodeID?, version: Version?, reason: String)]
    }

    /// - Parameters:
    ///   - keys: each node's public key, from the topology.
    ///   - revoked: the keys the ledger revoked: an ack signed with one is rejected.
    public static func verify(_ envelopes: [SignedEnvelope], keys: [NodeID: PublicKey], revoked: RevocationList = RevocationList()) -> Outcome {
        let count = envelopes.count
        guard count > 0 else { return Outcome(verified: [], rejected: []) }
        let slices = min(count, max(1, ProcessInfoCores.count * 4))
        let results = SliceResults(count: slices)
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            var verified: [(Ack, [UInt8])] = []
            var rejected: [(NodeID?, Version?, String)] = []
            var i = slice
            while i < count {
                let envelope = envelopes[i]
                let nodeText = envelope.signed["node"]?.stringValue
                let node = nodeText.flatMap(NodeID.init)
                let version = envelope.signed["version"].flatMap { if case .int(let v) = $0, v > 0 { Version(UInt64(v)) } else { nil } }
                if let node, let key = keys[node], let problem = revoked.refusal(keyID: key.keyID) {
                    rejected.append((node, version, "signed with a revoked key: \(problem)"))
                } else if let node, let key = keys[node] {
                    do {
                        let ack = try envelope.open(Ack.self, context: .ack, trusted: TrustedKeys([key]))
                        verified.append((ack, envelope.canonicalBytes))
                    } catch {
                        rejected.append((node, version, "\(error)"))
                    }
                } else {
                    rejected.append((node, version, node == nil ? "the ack names no node" : "\(node!) is not in the topology"))
                }
                i += slices
            }
            results.set(slice, verified, rejected)
        }
        return results.outcome
    }
}

extension AckVerifier {
    /// Tamper reports whose signatures verify with their victims' keys (`ben/report/v1`); the rest are dropped.
    public static func verifyReports(_ envelopes: [SignedEnvelope], keys: [NodeID: PublicKey]) -> [TamperReport] {
        envelopes.compactMap { envelope in
            guard let text = envelope.signed["node"]?.stringValue, let node = NodeID(text), let key = keys[node] else { return nil }
            return try? envelope.open(TamperReport.self, context: .report, trusted: TrustedKeys([key]))
        }
    }
}

/// One slot per slice, each written by exactly one `concurrentPerform` iteration and read after all finish.
/// The slots are a raw buffer allocated up front, so concurrent writes to different slots share nothing.
private final class SliceResults: @unchecked Sendable {
    typealias Slot = (verified: [(Ack, [UInt8])], rejected: [(NodeID?, Version?, String)])
    private let slots: UnsafeMutableBufferPointer<Slot>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: ([], []))
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ slice: Int, _ v: [(Ack, [UInt8])], _ r: [(NodeID?, Version?, String)]) {
        slots[slice] = (v, r)
    }

    var outcome: AckVerifier.Outcome {
        AckVerifier.Outcome(
            verified: slots.flatMap { $0.verified.map { (ack: $0.0, envelope: $0.1) } },
            rejected: slots.flatMap { $0.rejected.map { (node: $0.0, version: $0.1, reason: $0.2) } })
    }
}

enum ProcessInfoCores {
    static let count: Int = {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? Int(n) : 1
    }()
}
