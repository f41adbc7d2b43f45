import ArgumentParser
import BenCore
import BenCrypto
import BenTopology
import Dispatch

extension Benctl.TopologyCommand {
    /// `benctl topology generate`: a synthetic fleet, with real Ed25519 public keys derived from the seed.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a synthetic fleet: R regions × Z zones × K racks, N nodes in all.",
            discussion: """
                Node keys are real Ed25519 public keys whose seeds are BLAKE2b-256("ben/topology/generate/v1", \
                seed, node id): the same flags always give the same file. They are for simulation and tests; never \
                use derived keys for a real node.
                """)

        @Option(help: "Regions.")
        var regions: Int

        @Option(help: "Zones per region.")
        var zones: Int

        @Option(help: "Racks per zone.")
        var racks: Int

        @Option(help: "Nodes in total, spread evenly over the racks.")
        var nodes: Int

        @Option(help: "Seed for roles, overrides and keys.")
        var seed: UInt64 = 1

        @Option(help: "Fleet name.")
        var fleet: String = "dc"

        @Option(help: "Fix the number of stripe trees k in the file (default: let the planner choose).")
        var stripes: Int?

        @Flag(help: "Make every node alike: no overrides, no tuning knobs.")
        var uniform = false

        @Option(name: [.customShort("o"), .long], help: "Write to FILE instead of standard output.")
        var output: String?

        func validate() throws {
            guard FleetName(fleet) != nil else { throw ValidationError("--fleet must be \(FleetName.rule)") }
            if let stripes, !(1...Planner.maxStripes).contains(stripes) {
                throw ValidationError("--stripes must be 1…\(Planner.maxStripes)")
            }
            if let problem = parameters.problem { throw ValidationError("\(problem.flag): \(problem.message)") }
        }

        var parameters: TopologyGenerator.Parameters {
            TopologyGenerator.Parameters(
                fleet: FleetName(fleet) ?? FleetName("dc")!, regions: regions, zonesPerRegion: zones,
                racksPerZone: racks, nodes: nodes, seed: seed, variety: !uniform, stripes: stripes)
        }

        func run() throws {
            var topology = TopologyGenerator.generate(parameters)
            topology.nodes = Self.withDerivedKeys(topology.nodes, seed: seed)
            let header = [
                "A synthetic Ben fleet: \(plural(regions, "region")) × \(plural(zones, "zone")) × \(plural(racks, "rack")), \(plural(nodes, "node")).",
                "Written by `benctl topology generate --regions \(regions) --zones \(zones) --racks \(racks) --nodes \(nodes) --seed \(seed)\(uniform ? " --uniform" : "")`.",
                "Node keys are derived from the seed: for simulation and tests only.",
            ]
            let text = topology.yaml(header: header)
            if let output {
                try TextFile.writeAtomically(text, to: output)
                FileHandleOutput.standardError("wrote \(output): \(counted(topology.nodes.count, "node")) in \(counted(topology.racks.count, "rack"))\n")
            } else {
                print(text, terminator: "")
            }
        }

        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

        /// Replaces the generator's placeholder keys with Ed25519 public keys whose seeds derive from (seed, id),
        /// on every core (key derivation dominates the run at 100 000 nodes).
        static func withDerivedKeys(_ nodes: [TopologyNode], seed: UInt64) -> [TopologyNode] {
            let keys = KeySlots(count: nodes.count)
            let ids = nodes.map(\.id.rawValue)
            let batches = max(1, min(nodes.count, 64))
            DispatchQueue.concurrentPerform(iterations: batches) { batch in
                let lo = nodes.count * batch / batches
                let hi = nodes.count * (batch + 1) / batches
                for i in lo..<hi { keys.set(i, derivedKey(seed: seed, id: ids[i])) }
            }
            var out = nodes
            for i in out.indices { out[i].key = keys.get(i) }
            return out
        }

        static func derivedKey(seed: UInt64, id: String) -> NodeKey {
            var input = Array("ben/topology/generate/v1".utf8)
            input.append(0)
            withUnsafeBytes(of: seed.littleEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: id.utf8)
            let key = SigningKey(seed: BLAKE2b.key(of: input).bytes)!
            return NodeKey(bytes: key.publicKey.bytes)
        }
    }
}

/// One slot per node that the key-derivation workers fill in parallel.
///
/// `@unchecked Sendable`: each worker writes only its own disjoint index range, and the buffer is read only after
/// `concurrentPerform` has returned, so no slot is ever touched by two threads at once.
private final class KeySlots: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<NodeKey>

    init(count: Int) {
        slots = .allocate(capacity: max(1, count))
        slots.initialize(repeating: NodeKey(words: 0, 0, 0, 0), count: max(1, count))
    }

    func set(_ i: Int, _ key: NodeKey) { slots[i] = key }
    func get(_ i: Int) -> NodeKey { slots[i] }

    deinit { slots.deallocate() }
}
