public import BenCore
import BenCrypto
public import BenProtocol

/// What a protocol-engine run showed: each version's outcome at the ledger, the invariants checked against the
/// ground truth the engine kept, and the trace's digest.
public struct ProtocolOutcome: Sendable {
    public struct VersionOutcome: Sendable {
        public var version: Version
        /// The ledger's final word: active, incomplete (or deploying, which is itself a violation).
        public var status: VersionStatus
        public var required: Int
        /// Nodes that activated the version (ground truth).
        public var activated: Int
        /// Seconds from the deploy until the ledger called it active or incomplete.
        public var decidedAfter: Double?
        /// Seconds from the deploy until each node activated (activated nodes only).
        public var completion: [Double]
        /// Every required node that did not switch, with the reason the ledger gives.
        public var notSwitched: [(node: NodeID, reason: MissingReason)]
    }

    /// A broken invariant: which, about whom, and what was seen.
    public struct Violation: Sendable, Hashable, CustomStringConvertible {
        public enum Invariant: String, Sendable, Hashable, CaseIterable {
            case activeWithoutEverySignedAck = "no version active without every required node's signed ack"
            case unverifiedContentActivated = "no node activates unverified content"
            case versionWentBackwards = "no node's version goes backwards"
            case notSwitchedUnreported = "every node that did not switch is reported with its reason"
            case noActivationBeforeItsWave = "no node outside a wave activates before that wave's gate passed"
        }

        public var invariant: Invariant
        public var detail: String

        public var description: String { "\(invariant.rawValue): \(detail)" }
    }

    public var seed: UInt64
    public var nodes: Int
    public var versions: [VersionOutcome]
    public var violations: [Violation]
    /// BLAKE2b of the whole trace (hex), and its length in lines.
    public var traceDigest: String
    public var traceLines: Int
    public var events: Int
    public var messagesAtLedger: Int
    public var chunkFrames: Int
    public var duplicateChunks: Int
    public var ledgerEgress: Int64
    public var bytesPerTier: [Int64]
    public var relaysKilled: Int
    /// Simulated seconds the run covered.
    public var simulatedSeconds: Double
    /// Wall time, seconds (speed figures only).
    public var wallSeconds: Double = 0
    /// The rollout in waves, when the scenario has one.
    public var rollout: RolloutOutcome?

    public var passed: Bool { violations.isEmpty }
}

extension ProtocolEngine {
    func outcome() -> ProtocolOutcome {
        var versions: [ProtocolOutcome.VersionOutcome] = []
        for (index, bundle) in bundles.enumerated() where index <= current {
            let v = bundle.version
            guard let record = deployments.versions[v], let deployment = record.deployment else { continue }
            let deployedAt = statusLog.first { $0.0 == v && $0.1 == .deploying }?.2 ?? 0
            let decided = statusLog.first { $0.0 == v && ($0.1 == .active || $0.1 == .incomplete) }?.2
            var completion: [Double] = []
            var activated = 0
            for i in 0..<n {
                if let a = activations[i].first(where: { $0.version == v }) {
                    activated += 1
                    completion.append(Double(a.at - deployedAt) / 1e9)
                }
            }
            let missing = deployment.missing
            let notSwitched = missing.keys.sorted().map { (node: $0, reason: missing[$0]!) }
            versions.append(
                .init(
                    version: v, status: statusLog.last { $0.0 == v }?.1 ?? record.status, required: deployment.required.count, activated: activated,
                    decidedAfter: decided.map { Double($0 - deployedAt) / 1e9 }, completion: completion.sorted(), notSwitched: notSwitched))
        }
        if traceDigest == nil, let hasher = traceHasher.take() { traceDigest = hasher.finalize() }
        let digest = traceDigest!
        var outcome = ProtocolOutcome(
            seed: seed, nodes: n, versions: versions, violations: checkInvariants(), traceDigest: digest.hex, traceLines: traceLines,
            events: eventsHandled, messagesAtLedger: messagesAtLedger, chunkFrames: chunkFrames, duplicateChunks: duplicateChunks,
            ledgerEgress: ledgerEgress, bytesPerTier: tierBytes, relaysKilled: deadAt.compactMap { $0 }.count, simulatedSeconds: Double(now) / 1e9)
        outcome.rollout = rolloutOutcome()
        return outcome
    }

    /// Checks the four invariants of issue 8 against what the engine saw happen (not what any machine says).
    public func checkInvariants() -> [ProtocolOutcome.Violation] {
        var violations: [ProtocolOutcome.Violation] = []
        // 1. A version the ledger ever called active has a verifying, active, signed ack from every required node.
        var signedActive: [Version: Set<Int>] = [:]
        for envelope in envelopesAtLedger {
            guard let text = envelope.signed["node"]?.stringValue, let node = NodeID(text), let i = nodeIndex[node],
                let ack = try? envelope.open(Ack.self, context: .ack, trusted: TrustedKeys([nodeKeys[i]])), ack.status == .active,
                let bundle = bundles.first(where: { $0.version == ack.version }), ack.manifest == bundle.manifestKey
            else { continue }
            signedActive[ack.version, default: []].insert(i)
        }
        for (index, bundle) in bundles.enumerated() where index <= current {
            let v = bundle.version
            guard statusLog.contains(where: { $0.0 == v && $0.1 == .active }), let record = deployments.versions[v], let d = record.deployment else { continue }
            let unsigned = d.required.compactMap { nodeIndex[$0] }.filter { !(signedActive[v]?.contains($0) ?? false) }.sorted()
            if !unsigned.isEmpty {
                violations.append(
                    .init(
                        invariant: .activeWithoutEverySignedAck,
                        detail: "\(v) is active, but \(unsigned.count) required node(s) have no verifying signed ack: \(unsigned.prefix(5).map { ids[$0].rawValue }.joined(separator: ", "))"))
            }
        }
        // 2. Every activation rests on every chunk of that version, all genuine.
        for i in 0..<n {
            for a in activations[i] {
                let set = stored[i][a.version]
                let complete = set?.isComplete ?? false
                let tainted = storedTampered[i][a.version] ?? false
                if !complete || tainted {
                    violations.append(
                        .init(
                            invariant: .unverifiedContentActivated,
                            detail: "\(ids[i]) activated \(a.version) holding \(set?.cardinality ?? 0)/\(run.chunks) chunks\(tainted ? ", some tampered" : "")"))
                }
            }
        }
        // 3. Activations and the persisted active version only move forward.
        for i in 0..<n {
            let versions = activations[i].map(\.version)
            if zip(versions, versions.dropFirst()).contains(where: { $0 >= $1 }) {
                violations.append(.init(invariant: .versionWentBackwards, detail: "\(ids[i]) activated \(versions.map(\.description).joined(separator: " then "))"))
            }
            let persisted = persistedActive[i]
            if zip(persisted, persisted.dropFirst()).contains(where: { $0 > $1 }) {
                violations.append(.init(invariant: .versionWentBackwards, detail: "\(ids[i]) persisted active \(persisted.map(\.description).joined(separator: " then "))"))
            }
        }
        // 5. With waves: no node of a wave activates before that wave started (the gates before it passed).
        violations += checkWaves()
        // 4. The ledger reached a verdict, and every node that did not switch is among its missing, with a reason.
        for (index, bundle) in bundles.enumerated() where index <= current {
            let v = bundle.version
            guard let record = deployments.versions[v], let d = record.deployment else {
                violations.append(.init(invariant: .notSwitchedUnreported, detail: "\(v) was never deployed"))
                continue
            }
            let final = statusLog.last { $0.0 == v }?.1 ?? record.status
            if final == .deploying {
                violations.append(.init(invariant: .notSwitchedUnreported, detail: "\(v) is still deploying after its deadline"))
                continue
            }
            let missing = d.missing
            for node in d.required.sorted() {
                guard let i = nodeIndex[node] else { continue }
                let switched = activations[i].contains { $0.version == v }
                if !switched {
                    if let reason = missing[node] {
                        if reason.text.isEmpty {
                            violations.append(.init(invariant: .notSwitchedUnreported, detail: "\(node) did not switch to \(v); the ledger gives no reason"))
                        }
                    } else {
                        violations.append(.init(invariant: .notSwitchedUnreported, detail: "\(node) did not switch to \(v), yet the ledger does not list it as missing"))
                    }
                }
            }
        }
        return violations
    }
}
