import ArgumentParser
import BenCore
import BenCrypto
import BenTopology

extension Benctl.TopologyCommand {
    /// `benctl topology plan FILE`: the plan a deployment would follow, and what it costs against a star and a
    /// plain tree.
    struct PlanVerb: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Print the plan for a deployment (tree, DOT or JSON) and its cost against a star and a plain tree.")

        @OptionGroup var topologyFile: TopologyFileArgument

        @Option(help: "Bundle size for the cost report (64MiB, 1GiB, bytes).")
        var size: String = "64MiB"

        @Option(help: "The version the plan is for.")
        var version: UInt64 = 1

        @Option(help: "Seed for relay rotation (default: the version).")
        var seed: UInt64?

        @Option(help: "Nodes known to be down, comma-separated ids.")
        var down: String?

        @Option(help: "Target only nodes with one of these roles, comma-separated (\(Role.spelling)).")
        var roles: String?

        @Option(
            name: [.customLong("locations"), .customLong("location")],
            help: "Target only nodes under these locations, comma-separated: region, region/zone or region/zone/rack.")
        var location: String?

        @Option(help: "Target only these nodes, comma-separated ids.")
        var nodes: String?

        @Option(help: "Number of stripe trees k (default: the topology's, else the planner chooses).")
        var stripes: Int?

        @Flag(help: "Print the plan, its figures and the cost report as JSON.")
        var json = false

        @Flag(help: "Print the stripe trees as a Graphviz DOT graph.")
        var dot = false

        @Flag(name: .customLong("tree"), inversion: .prefixedNo, help: "Print the trees (text output).")
        var printTree = true

        func validate() throws {
            if json && dot { throw ValidationError("choose one of --json and --dot") }
            guard let bytes = ByteSize.parse(size), bytes > 0 else {
                throw ValidationError("--size: '\(size)' is not a size; write 64MiB, 1GiB or a number of bytes")
            }
            _ = bytes
            guard version >= 1 else { throw ValidationError("--version must be 1 or more") }
            if let stripes, !(1...Planner.maxStripes).contains(stripes) {
                throw ValidationError("--stripes must be 1…\(Planner.maxStripes)")
            }
            let unknown = Selector.roles(list(roles), field: "--roles").unknown
            if !unknown.isEmpty { throw ValidationError(unknown.map(\.description).joined(separator: "; ")) }
        }

        func list(_ text: String?) -> [String] {
            (text ?? "").split(separator: ",").map { String($0).trimmingCharacters() }.filter { !$0.isEmpty }
        }

        func run() throws {
            let topology = try TopologyFiles.load(topologyFile.file)
            let topologyKey = TopologyFiles.key(of: topology)
            let bundleSize = ByteSize.parse(size)!
            // Every name is checked against the file: an unknown one is named with the nearest known one.
            let selector: Selector
            let downNodes: [NodeID]
            do {
                selector = try Selector.checked(
                    SelectorRequest(roles: list(roles), locations: list(location), nodes: list(nodes)), in: topology,
                    fields: .init(roles: "--roles", locations: "--location", nodes: "--nodes"))
                downNodes = try Selector.checked(
                    SelectorRequest(nodes: list(down)), in: topology, fields: .init(roles: "--roles", locations: "--location", nodes: "--down")
                ).nodes
            } catch {
                throw CommandFailure(error.description)
            }
            let deployment = Deployment(
                version: Version(version), topologyKey: topologyKey, selector: selector, seed: seed,
                down: downNodes, stripes: stripes, bundleSize: bundleSize)
            let planner = Planner()
            let planned: PlannedDeployment
            let plain: PlannedDeployment
            do {
                planned = try planner.plan(topology, deployment)
                var single = deployment
                single.stripes = 1
                plain = try planner.plan(topology, single)
            } catch {
                throw CommandFailure(error.description)
            }
            let planKey = BLAKE2b.key(of: planned.plan)
            let report = CostModel(topology: topology).report(striped: planned, plainTree: plain, bundleSize: bundleSize)
            let view = PlanView(topology: topology, planned: planned)
            if json {
                print(try CanonicalJSON.string(view.json(report: report, topologyKey: topologyKey, planKey: planKey)))
            } else if dot {
                print(view.dot(), terminator: "")
            } else {
                print(view.header(topologyKey: topologyKey, planKey: planKey), terminator: "")
                if printTree { print(view.indented(), terminator: "") }
                print(report.table, terminator: "")
            }
        }
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
