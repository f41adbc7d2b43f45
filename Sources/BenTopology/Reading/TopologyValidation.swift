import BenCore

extension Topology {
    /// The path of node i's entry in the file: `regions[eu-1].zones[a].racks[r01].nodes[proxy-7]`.
    public func path(ofNode i: Int) -> String {
        let n = nodes[i]
        return "regions[\(regions[Int(n.region)].name)].zones[\(zones[Int(n.zone)].name)].racks[\(racks[Int(n.rack)].name)].nodes[\(n.id)]"
    }

    /// Checks what holds across the whole topology: unique ids, addresses and keys, fan-outs of at least 1,
    /// a ledger that can feed the stripe trees, and (with `checkReachability`) that the planner can reach every
    /// required node under the constraints. A topology built in memory (the generator's, a test's) gets the
    /// same checks a file does; errors name the file and line when `source` knows them.
    public func validate(planner: Planner = Planner(), checkReachability: Bool = true) -> [TopologyError] {
        var errors: [TopologyError] = []
        let file = source.file
        func add(_ code: TopologyError.Code, _ line: Int, _ field: String, _ problem: String, _ fix: String) {
            errors.append(TopologyError(code, file: file, line: line, field: field, problem: problem, fix: fix))
        }

        if nodes.isEmpty {
            add(.invalidValue, source.line(of: "regions"), "regions", "the topology lists no node", "add regions, zones, racks and nodes")
        }

        checkNodes(add)
        checkFanOuts(add)
        guard errors.isEmpty, checkReachability, !nodes.isEmpty else { return errors }
        errors += reachabilityErrors(planner: planner)
        return errors
    }

    /// Each node's id, address and key are its own (and the ledger's address is no node's), and its fan-out is
    /// at least 1.
    private func checkNodes(_ add: (TopologyError.Code, Int, String, String, String) -> Void) {
        var ids: [NodeID: Int] = [:]
        var addresses: [HostPort: Int] = [:]
        var keys: [NodeKey: Int] = [:]
        ids.reserveCapacity(nodes.count)
        addresses.reserveCapacity(nodes.count + 1)
        keys.reserveCapacity(nodes.count)
        for (i, node) in nodes.enumerated() {
            let line = source.line(ofNode: i)
            /// The earlier node that has `value`, or nil when node i is the first (and is remembered as having it).
            func earlier<Value: Hashable>(_ value: Value, in seen: inout [Value: Int]) -> Int? {
                if let first = seen[value] { return first }
                seen[value] = i
                return nil
            }
            /// Node i's `part` (at `lines(i)`) is already node `first`'s.
            func taken(_ code: TopologyError.Code, _ part: String, _ subject: String, _ lines: (Int) -> Int, _ first: Int, fix: String) {
                add(code, lines(i), "\(path(ofNode: i)).\(part)", "\(subject) is already node \(nodes[first].id)'s (line \(lines(first)))", fix)
            }
            if node.id == .ledger {
                add(
                    .invalidValue, line, "\(path(ofNode: i)).id", "'ledger' is the ledger's own name on peer links and in plans",
                    "give this node another id")
            }
            if let first = earlier(node.id, in: &ids) {
                add(
                    .duplicateID, line, "\(path(ofNode: i)).id",
                    "node id '\(node.id)' is already used at line \(source.line(ofNode: first)) (\(location(of: first)))",
                    "give each node its own id")
            }
            // An unread address or key is a placeholder, and the reader has reported it already.
            if !source.unreadAddresses.contains(i), let first = earlier(node.address, in: &addresses) {
                taken(.duplicateAddress, "address", "address \(node.address)", source.line(ofAddress:), first, fix: "give each node its own host:port")
            }
            if !source.unreadKeys.contains(i), let first = earlier(node.key, in: &keys) {
                taken(
                    .duplicateKey, "key", "this public key", source.line(ofKey:), first,
                    fix: "each node has its own key: run `benctl keygen` for this node and paste its .pub")
            }
            if let o = node.maxFanOut { checkFanOut(o, line: line, field: "\(path(ofNode: i)).max_fan_out", add) }
        }
        if let i = addresses[ledger.address] {
            add(
                .duplicateAddress, source.line(of: "ledger.address"), "ledger.address",
                "address \(ledger.address) is also node \(nodes[i].id)'s (line \(source.line(ofAddress: i)))",
                "give the ledger its own host:port")
        }
    }

    /// Every fan-out, of racks, the defaults and the ledger, is at least 1, and the ledger can feed every stripe.
    private func checkFanOuts(_ add: (TopologyError.Code, Int, String, String, String) -> Void) {
        for (r, rack) in racks.enumerated() {
            if let o = rack.maxFanOut {
                let line = rack.nodes.isEmpty ? 0 : source.line(ofNode: rack.nodes.lowerBound)
                checkFanOut(o, line: line, field: "\(rackPath(r)).max_fan_out", add)
            }
        }
        checkFanOut(
            FanOutOverride(total: defaults.maxFanOut.total, perTier: PerTier(
                inRack: defaults.maxFanOut[.inRack], crossRack: defaults.maxFanOut[.crossRack],
                crossZone: defaults.maxFanOut[.crossZone], crossRegion: defaults.maxFanOut[.crossRegion])),
            line: source.line(of: "defaults"), field: "defaults.max_fan_out", add)
        if ledgerMaxFanOut < 1 {
            add(.badFanOut, source.line(of: "ledger.max_fan_out"), "ledger.max_fan_out", "a fan-out of \(ledgerMaxFanOut) is below 1", "use 1 or more")
        }
        if let k = stripes, ledgerMaxFanOut < k {
            add(
                .conflict, source.line(of: "ledger.max_fan_out") > 0 ? source.line(of: "ledger.max_fan_out") : source.line(of: "stripes"),
                "ledger.max_fan_out",
                "the ledger may have \(ledgerMaxFanOut) children but stripes is \(k), and each stripe tree needs one",
                "raise ledger.max_fan_out to at least \(k) or lower stripes")
        }
    }

    /// Plans a deployment to every required node and reports each one the plan cannot reach, and a fixed k
    /// the constraints cannot carry.
    func reachabilityErrors(planner: Planner) -> [TopologyError] {
        let file = source.file
        let required = requiredNodes
        guard !required.isEmpty else { return [] }
        let planned: PlannedDeployment
        do {
            planned = try planner.plan(self, Deployment(version: 1, topologyKey: Key(digest: [UInt8](repeating: 0, count: 32))))
        } catch {
            return [error.located(file: file, line: error.line)]
        }
        var errors: [TopologyError] = []
        let unreachable = planned.excluded.filter { $0.reason == .unreachable }
        if !unreachable.isEmpty {
            let index = indexByID()
            let (places, relays) = parentPlaces()
            let neverLine = source.line(of: "tuning.never_relay")
            let hint = neverLine > 0 ? "let more nodes relay (tuning.never_relay, line \(neverLine)) or raise max_fan_out" : "raise max_fan_out or the nodes' uplinks"
            for exclusion in unreachable.prefix(20) {
                let i = index[exclusion.node]!
                errors.append(TopologyError(
                    .unreachable, file: file, line: source.line(ofNode: i), field: path(ofNode: i),
                    problem: "node \(exclusion.node) cannot be reached: the ledger and the \(relays) nodes allowed to relay offer \(places) parent places for \(required.count) required nodes",
                    fix: hint))
            }
            if unreachable.count > 20 {
                errors.append(TopologyError(
                    .unreachable, file: file, line: 0, field: "regions",
                    problem: "and \(unreachable.count - 20) more nodes cannot be reached", fix: hint))
            }
        }
        if let k = stripes, planned.stripeCount < k {
            errors.append(TopologyError(
                .unreachable, file: file, line: source.line(of: "stripes"), field: "stripes",
                problem: "\(k) stripe trees cannot each reach every node under the fan-out and uplink limits (at most \(planned.stripeCount) can)",
                fix: "lower stripes to \(planned.stripeCount), let more nodes relay or raise max_fan_out"))
        }
        return errors
    }

    /// How many children the ledger and all relaying nodes could have at most, and how many nodes may relay.
    func parentPlaces() -> (places: Int, relays: Int) {
        var places = ledgerMaxFanOut
        var relays = 0
        for i in nodes.indices where !nodes[i].maintenance && nodes[i].duty != .never {
            relays += 1
            places += maxFanOut(of: i).total
        }
        return (places, relays)
    }

    func rackPath(_ r: Int) -> String {
        let rack = racks[r]
        return "regions[\(regions[rack.region].name)].zones[\(zones[rack.zone].name)].racks[\(rack.name)]"
    }

    private func checkFanOut(
        _ o: FanOutOverride, line: Int, field: String,
        _ add: (TopologyError.Code, Int, String, String, String) -> Void
    ) {
        if let t = o.total, t < 1 {
            add(.badFanOut, line, "\(field).total", "a fan-out of \(t) is below 1", "use 1 or more (to keep a node a leaf, list it in tuning.never_relay)")
        }
        for tier in Tier.allCases {
            if let v = o.perTier[tier], v < 1 {
                add(.badFanOut, line, "\(field).\(tier.name)", "a fan-out of \(v) is below 1", "use 1 or more (to keep a node a leaf, list it in tuning.never_relay)")
            }
        }
    }
}
