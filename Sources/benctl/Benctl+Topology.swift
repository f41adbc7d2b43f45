import ArgumentParser
import BenCore
import BenCrypto
import BenTopology

extension Benctl {
    /// `benctl topology …`: write, check and plan topology files (DESIGN §2).
    struct TopologyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "topology",
            abstract: "Write, check and plan topology files.",
            subcommands: [Generate.self, Check.self, PlanVerb.self, Apply.self])
    }
}

/// Reading topology files, shared by the topology verbs.
enum TopologyFiles {
    /// Reads and validates FILE; every problem goes to stderr, and the command fails with exit code 1.
    static func load(_ path: String) throws -> Topology {
        let text = try TextFile.read(path)
        let reading = Topology.read(yaml: text, file: path)
        guard let topology = reading.topology else {
            for error in reading.errors { FileHandleOutput.standardError("\(error)\n") }
            let count = reading.errors.count
            throw CommandFailure("\(path): \(count) problem\(count == 1 ? "" : "s") (above); nothing was planned")
        }
        return topology
    }

    /// The topology key: BLAKE2b-256 of the topology's canonical bytes (DESIGN §5).
    static func key(of topology: Topology) -> Key { BLAKE2b.key(of: topology.canonicalBytes) }
}
