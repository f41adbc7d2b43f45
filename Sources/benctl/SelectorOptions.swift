import ArgumentParser
import BenCore
import BenTopology

/// `--roles`, `--nodes`, `--locations` (and `--topology FILE` to check them offline): which nodes a verb is
/// about. Names may be given as separate values or comma-separated.
///
/// Nothing is dropped: benctl checks role names itself (a closed list), checks node ids and locations against
/// `--topology FILE` when given or else asks the ledger (`topology.show` with `select`), and the ledger checks
/// all of them again before it acts. Any unknown name is an error naming it and the nearest known one.
struct SelectorOptions: ParsableArguments {
    @Option(name: .long, parsing: .upToNextOption, help: "Only nodes with one of these roles (\(Role.spelling)).")
    var roles: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Only these nodes (ids as the topology lists them).")
    var nodes: [String] = []

    @Option(name: .long, parsing: .upToNextOption, help: "Only nodes under these locations: region, region/zone or region/zone/rack.")
    var locations: [String] = []

    @Option(name: .long, help: "Check --nodes and --locations against this topology file instead of asking the ledger.")
    var topology: String?

    var request: SelectorRequest {
        SelectorRequest(roles: Self.split(roles), locations: Self.split(locations), nodes: Self.split(nodes))
    }

    var isEmpty: Bool { request.isEmpty }

    static func split(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters() } }.filter { !$0.isEmpty }
    }

    /// The selector as request arguments (`roles`, `nodes`, `locations`), for the ledger to check again.
    var args: [String: JSONValue] {
        let r = request
        var out: [String: JSONValue] = [:]
        if !r.roles.isEmpty { out["roles"] = .array(r.roles.map { .string($0) }) }
        if !r.nodes.isEmpty { out["nodes"] = .array(r.nodes.map { .string($0) }) }
        if !r.locations.isEmpty { out["locations"] = .array(r.locations.map { .string($0) }) }
        return out
    }

    /// What benctl can check without the ledger: role names always, everything against `--topology FILE`.
    func checkLocally() throws {
        do {
            _ = try Selector.checkedRoles(request.roles)
            if let topology {
                _ = try Selector.checked(request, in: try TopologyFiles.load(topology))
            }
        } catch let error as TopologyError {
            throw CommandFailure(error.description)
        }
    }

    /// Checks the selector locally, then (without `--topology`) against the ledger's topology; returns how many
    /// nodes it selects, or nil when there is no selector.
    func check(with client: LedgerClient) async throws -> Int? {
        try checkLocally()
        guard !isEmpty else { return nil }
        if let topology {
            let t = try TopologyFiles.load(topology)
            return try Selector.checked(request, in: t).selectedNodes(in: t).count
        }
        let answer = try await client.call("topology.show", args: ["select": .object(args)])
        return answer["selected"]?.intValue.map(Int.init)
    }
}
