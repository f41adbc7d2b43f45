import BenCore
import BenTestKit
import Foundation
import Testing

/// A small fleet of real processes whose uploads are capped (the token bucket, `--upload-limit`) so that a
/// multi-megabyte bundle takes seconds to spread: long enough for a test to kill, stop or restart something
/// while chunks are really in flight. The topology says the same uplink, so the planner stripes for it.
///
/// Every agent starts with a short orphan deadline and heartbeat (`LocalFleet`'s defaults). `baseline` deploys the
/// example intent first, so nodes that do not switch to the bundle have a previous version to stay on.
struct ShapedFleet {
    static let rate = "24Mbit"
    static let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    let fleet: LocalFleet
    /// The version every node ran before the bundle (`Version.none` without a baseline).
    let baseline: Version
    /// The big bundle, staged, not deployed.
    let version: Version
    let manifest: Key

    /// - Parameters:
    ///   - payload: bytes of random payload in the bundle (in 256 KiB chunks), for a role no node has.
    ///   - configure: adjusts the fleet (per-node arguments, say) before any process starts.
    ///   - start: the agents to start; nil starts all.
    static func start(
        nodes: Int = 7, payload: Int = 6 << 20, baseline deployBaseline: Bool = true, roles: @escaping (Int) -> [Role] = { _ in [.proxy] },
        start: [NodeID]? = nil, cluster: NATSCluster? = nil, configure: (LocalFleet) throws -> Void = { _ in }
    ) async throws -> ShapedFleet {
        let fleet = try await LocalFleet(nodes: nodes, uplink: rate, cluster: cluster, roles: roles)
        fleet.agentArguments += ["--upload-limit", rate]
        fleet.ledgerArguments += ["--upload-limit", rate]
        try configure(fleet)
        try await fleet.startLedger()
        try await fleet.startAgents(start)
        try await waitListening(fleet, start ?? fleet.nodes.map(\.id))
        var baseline = Version.none
        if deployBaseline {
            baseline = try await fleet.stage(intent)
            let deployed = try await fleet.benctlInBackground(["deploy", "\(baseline.rawValue)", "--wait", "--timeout", "30"])
            guard deployed.status == 0 else { throw LocalFleetError("baseline deploy failed: \(deployed.stdout)\(deployed.stderr)") }
        }
        let folder = fleet.directory.file("bundle")
        let manifest = try await BundleMaker.bundle(intent: intent, folder: folder, payloadBytes: payload, chunkSize: 256 << 10)
        let version = try await fleet.stage(folder)
        return ShapedFleet(fleet: fleet, baseline: baseline, version: version, manifest: manifest)
    }

    /// Waits until each of these agents listens for peer links (counting restarts: `times` listens each).
    static func waitListening(_ fleet: LocalFleet, _ ids: [NodeID], times: Int = 1) async throws {
        for id in ids {
            try await fleet.waitUntil(timeout: .seconds(20), "\(id) listens for peer links") {
                fleet.agentLog(id).components(separatedBy: "listening for peer links").count - 1 >= times
            }
        }
    }

    /// Waits until `node` holds part of the bundle (at least two chunks, not all), then kills it with SIGKILL.
    /// Returns what it held when it died, so the test can check the kill really came mid-transfer.
    func killMidTransfer(_ node: NodeID) async throws -> (have: Int, of: Int) {
        try await fleet.waitUntil(timeout: .seconds(30), "\(node) holds part of the bundle") {
            let held = fleet.chunksHeld(node, manifest: manifest)
            return held.have >= 2 && held.have < held.of
        }
        await fleet.stopAgent(node, signal: SIGKILL)
        return fleet.chunksHeld(node, manifest: manifest)
    }

    /// Waits until the ledger has decided the bundle's rollout (active or incomplete).
    func waitDecided(timeout: Duration = .seconds(60)) async throws -> DeploymentStatus {
        try await fleet.waitUntil(timeout: timeout, "v\(version.rawValue) is decided") {
            guard let status = try? await fleet.status(version) else { return false }
            return status.status == "active" || status.status == "incomplete"
        }
        return try await fleet.status(version)
    }

    /// The states the audit log records the bundle's version entering, in order.
    func auditedTransitions() async throws -> [String] {
        let log = try await fleet.benctl(["log", "--json"])
        guard log.status == 0 else { throw LocalFleetError("benctl log failed: \(log.stderr)") }
        return try log.stdout.split(separator: "\n").compactMap { line in
            let entry = try JSONParser.parse(String(line))
            guard entry["kind"]?.stringValue == "transition", entry["detail"]?["version"]?.intValue == Int64(version.rawValue) else {
                return nil
            }
            return entry["detail"]?["to"]?.stringValue
        }
    }

    /// The guarantees of DESIGN §3 after any fault: the version is active only with a verified signed ack from
    /// every required node; otherwise it is incomplete and names exactly `missing`, each with a location and a
    /// reason; every other node runs the new version, and every named node still runs the one before.
    func expectOutcome(missing: Set<NodeID>, reason: MissingReason.Code? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = try await fleet.status(version)
        let activated = try await auditedTransitions().contains("active")
        if missing.isEmpty {
            #expect(status.status == "active", "\(status.missing)", sourceLocation: sourceLocation)
            #expect(status.active == status.required && status.required == fleet.nodes.count, sourceLocation: sourceLocation)
            #expect(status.missing.isEmpty, sourceLocation: sourceLocation)
        } else {
            #expect(status.status == "incomplete", sourceLocation: sourceLocation)
            #expect(!activated, "the audit log never calls the version active", sourceLocation: sourceLocation)
            #expect(Set(status.missing.map(\.node)) == missing, "\(status.missing)", sourceLocation: sourceLocation)
            #expect(status.active == status.required - missing.count, sourceLocation: sourceLocation)
            for m in status.missing {
                #expect(m.location.hasPrefix("test/"), "\(m.node) is named with its location", sourceLocation: sourceLocation)
                #expect(!m.reason.detail.isEmpty, "\(m.node) is named with a reason", sourceLocation: sourceLocation)
                if let reason { #expect(m.reason.code == reason, "\(m.node): \(m.reason)", sourceLocation: sourceLocation) }
            }
        }
        for node in fleet.nodes {
            let state = fleet.agentState(node.id)
            if missing.contains(node.id) {
                #expect((state?.active ?? .none) == baseline, "\(node.id) stays on its previous version", sourceLocation: sourceLocation)
            } else {
                #expect(state?.active == version, "\(node.id) runs the new version", sourceLocation: sourceLocation)
            }
        }
        #expect(try await fleet.benctl(["log", "--verify"]).status == 0, sourceLocation: sourceLocation)
    }
}

extension Plan {
    /// The nodes that relay (have children) in some stripe tree, with those stripes.
    var relays: [NodeID: [Int]] {
        var out: [NodeID: [Int]] = [:]
        for s in 0..<stripeCount {
            for parent in stripes[s] where parent != Plan.ledger {
                let relay = nodes[Int(parent)].id
                if out[relay]?.contains(s) != true { out[relay, default: []].append(s) }
            }
        }
        return out
    }

    /// Nodes with no children in any stripe tree.
    var leaves: [NodeID] { nodes.map(\.id).filter { relays[$0] == nil } }

    /// A node's parent in one stripe tree (nil: the ledger).
    func parent(of id: NodeID, stripe s: Int) -> NodeID? {
        guard let i = nodes.firstIndex(where: { $0.id == id }) else { return nil }
        let p = stripes[s][i]
        return p == Plan.ledger ? nil : nodes[Int(p)].id
    }

    /// How many nodes sit below a node in one stripe tree.
    func descendants(of id: NodeID, stripe s: Int) -> Int {
        let children = children(stripe: s)
        guard let start = nodes.firstIndex(where: { $0.id == id }) else { return 0 }
        var count = 0
        var queue = children[start].map(Int.init)
        while let next = queue.popLast() {
            count += 1
            queue += children[next].map(Int.init)
        }
        return count
    }
}
