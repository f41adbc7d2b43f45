import BenCore
import BenCrypto
import BenNATS
import BenPeerLink
import BenProtocol
import BenStore
import BenTopology
import Logging

/// An API request refused, with the sentence benctl prints.
struct APIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension LedgerService {
    /// `ben.<fleet>.api.<verb>`: the operator API, JSON over NATS request/reply. Verbs that change state must
    /// be signed by a trusted operator key; reads are open.
    func serveAPI(_ connection: NATSConnection) async throws {
        let subscription = try await connection.subscribe(subject: NATSSubjects.apiWildcard(configuration.fleet))
        let prefix = "ben.\(configuration.fleet.rawValue).api."
        for await message in subscription {
            let verb = String(message.subject.dropFirst(prefix.count))
            // A ledger without a live lease answers nothing, not even reads: the ledger that holds it answers.
            guard mayAct("answer \(verb)") else { continue }
            let (payload, ok) = handle(verb: verb, message: message)
            var headers = NATSHeaders()
            headers.set(ok ? "ok" : "error", for: OperatorAPI.statusHeader)
            try? await message.respond(payload, headers: headers)
        }
    }

    func handle(verb: String, message: NATSMessage) -> ([UInt8], Bool) {
        currentOperator = "ledger"
        defer { currentOperator = "ledger" }
        do {
            let args: JSONValue
            if OperatorAPI.signedVerbs.contains(verb) {
                let request = try authorize(verb: verb, message: message)
                args = request.args
            } else if OperatorAPI.openVerbs.contains(verb) {
                args = message.payload.isEmpty ? [:] : try JSONParser.parse(message.payload)
            } else {
                throw APIError("unknown verb \(verb); benctl and this ledger may be different versions")
            }
            var answer = try answer(verb: verb, args: args, body: message.payload)
            if OperatorAPI.signedVerbs.contains(verb), case .object(var fields) = answer {
                // Every answer that changes state says under which lease epoch it was made.
                fields["epoch"] = .int(Int64(epoch))
                answer = .object(fields)
            }
            return ((try? CanonicalJSON.encode(answer)) ?? [], true)
        } catch {
            logger.notice("API request refused", metadata: ["verb": "\(verb)", "reason": "\(error)"])
            return ((try? CanonicalJSON.encode(["error": .string("\(error)")])) ?? [], false)
        }
    }

    /// Checks a state-changing request: signed by a trusted operator, for this fleet and verb, fresh, not a
    /// replay, and its body is the one it names. Anything else is refused and logged.
    func authorize(verb: String, message: NATSMessage) throws -> OperatorRequest {
        guard let text = message.headers[OperatorAPI.requestHeader] else {
            throw APIError("\(verb) changes state and must be signed: pass --key FILE or set BEN_OPERATOR_KEY")
        }
        let envelope = try SignedEnvelope.decode(Array(text.utf8), document: "operator request", maxBytes: OperatorRequest.maxBytes)
        let keyID: String
        do {
            keyID = try envelope.verify(context: .operatorRequest, trusted: configuration.operators)
        } catch {
            throw APIError("refused: \(error); the ledger trusts only the operator keys in its configuration")
        }
        let request = try envelope.document(as: OperatorRequest.self)
        if case .failure(let refusal) = requests.check(request, verb: verb, bodyKey: BLAKE2b.key(of: message.payload), now: now()) {
            throw APIError(refusal.description)
        }
        currentOperator = keyID
        return request
    }

    func answer(verb: String, args: JSONValue, body: [UInt8]) throws -> JSONValue {
        switch verb {
        case "topology.apply": return try applyTopology(yaml: body, file: args["file"]?.stringValue ?? "topology.yaml")
        case "topology.show": return try showTopology(args: args)
        case "stage.begin": return try stageBegin(manifest: body, label: args["label"]?.stringValue ?? "")
        case "stage.chunk": return try stageChunk(args: args, part: body)
        case "stage.commit": return try stageCommit(args: args)
        case "versions": return versionsList()
        case "deploy": return try deploy(args: args)
        case "rollback": return try rollback(args: args)
        case "status": return try status(args: args).json
        case "log": return try log(args: args)
        case "log.verify": return try verifyLog()
        case "drift": return try drift(args: args)
        case "activate", "rollout.pause", "rollout.resume", "rollout.abort": return try rolloutControl(verb: verb, args: args)
        case "members": return try members(args: args)
        case "revoke": return try revoke(args: args)
        case "topology.get": return try topologyDocument()
        default: throw APIError("unknown verb \(verb)")
        }
    }

    // MARK: Topology

    func applyTopology(yaml: [UInt8], file: String) throws -> JSONValue {
        let text = String(decoding: yaml, as: UTF8.self)
        let reading = Topology.read(yaml: text, file: file)
        guard let topology = reading.topology else {
            throw APIError("the topology has \(reading.errors.count) problem(s):\n" + reading.errors.map(\.description).joined(separator: "\n"))
        }
        guard topology.fleet == configuration.fleet else {
            throw APIError("\(file): the topology is for fleet \(topology.fleet); this ledger runs \(configuration.fleet)")
        }
        let yamlKey = try store.put(yaml)
        let key = BLAKE2b.key(of: topology.canonicalBytes)
        try database.setSetting("topology", yamlKey.hex)
        install(topology, key: key)
        audit("topology", detail: ["key": .string(key.hex), "nodes": .int(Int64(topology.nodes.count)), "file": .string(file)])
        return ["key": .string(key.hex), "nodes": .int(Int64(topology.nodes.count)), "fleet": .string(topology.fleet.rawValue)]
    }

    /// The topology in force, summed up. With `select` ({roles, nodes, locations}), also checks that selector
    /// against it (benctl asks before it deploys, filters or evaluates): an error names each unknown name and the
    /// nearest known one; otherwise `selected` counts the nodes it selects.
    func showTopology(args: JSONValue = [:]) throws -> JSONValue {
        guard let (topology, key) = topology else { throw APIError("no topology applied yet; `benctl topology apply FILE`") }
        var roles: [String: JSONValue] = [:]
        for role in Role.allCases {
            roles[role.rawValue] = .int(Int64(topology.nodes.filter { $0.roles.contains(role) }.count))
        }
        var out: [String: JSONValue] = [
            "key": .string(key.hex), "fleet": .string(topology.fleet.rawValue), "nodes": .int(Int64(topology.nodes.count)),
            "roles": .object(roles),
        ]
        if let select = args["select"] {
            let request = try selectorRequest(select, field: "select")
            let selector = try checkedSelector(request, in: topology, fields: selectorFields(select))
            let selected = selector.selectedNodes(in: topology)
            out["selected"] = .int(Int64(selected.count))
            out["selected_nodes"] = .array(selected.prefix(1000).map { i in
                [
                    "node": .string(topology.nodes[i].id.rawValue), "roles": .array(topology.nodes[i].roles.roles.map { .string($0.rawValue) }),
                    "location": .string(topology.location(of: i)),
                ]
            })
        }
        return .object(out)
    }

    // MARK: Selectors

    /// The names of a selector as a request gives them (`roles`, `nodes`, `locations`: arrays of strings). A
    /// part that is not an array of strings is refused, never ignored.
    func selectorRequest(_ args: JSONValue, field prefix: String = "") throws -> SelectorRequest {
        func names(_ key: String) throws -> [String] {
            guard let value = args[key], value != .null else { return [] }
            guard case .array(let items) = value else { throw APIError("\(prefix.isEmpty ? "" : prefix + ".")\(key): expected an array of names") }
            return try items.map { item in
                guard let name = item.stringValue else { throw APIError("\(prefix.isEmpty ? "" : prefix + ".")\(key): \(item) is not a name") }
                return name
            }
        }
        return SelectorRequest(roles: try names("roles"), locations: try names("locations"), nodes: try names("nodes"))
    }

    /// The flags an operator wrote the selector with, when benctl says (`fields`), for error lines that point at
    /// them; by default `--roles`, `--nodes`, `--locations`.
    func selectorFields(_ args: JSONValue) -> SelectorRequest.Fields {
        guard let fields = args["fields"] else { return .flags }
        return SelectorRequest.Fields(
            roles: fields["roles"]?.stringValue ?? "--roles", locations: fields["locations"]?.stringValue ?? "--locations",
            nodes: fields["nodes"]?.stringValue ?? "--nodes")
    }

    /// Checks a selector against the topology in force (BenTopology's `Selector.checked`).
    func checkedSelector(_ request: SelectorRequest, in topology: Topology, fields: SelectorRequest.Fields = .flags) throws -> Selector {
        do {
            return try Selector.checked(request, in: topology, fields: fields)
        } catch {
            throw APIError(error.description)
        }
    }

    /// A deploy's, rollback's or retry's selector, checked before anything is written: an unknown name or a
    /// selector that selects no node refuses the request, and nothing changes.
    func deploySelector(_ args: JSONValue, retry: Bool) throws -> Selector? {
        let request = try selectorRequest(args)
        guard !request.isEmpty else { return nil }
        guard let (topology, _) = topology else { throw APIError("no topology applied yet; `benctl topology apply FILE` first") }
        let selector = try checkedSelector(request, in: topology, fields: selectorFields(args))
        if retry {
            throw APIError("--retry announces again to every node whose ack is missing and takes no selector (\(selector)); nothing was done")
        }
        return selector
    }

    // MARK: Stage

    func stageBegin(manifest bytes: [UInt8], label: String) throws -> JSONValue {
        let manifest = try Manifest.decode(bytes)
        let key = try store.put(bytes)
        let missing = manifest.chunkKeys.filter { !store.has($0) }
        return [
            "manifest": .string(key.hex), "chunks": .int(Int64(manifest.chunkKeys.count)), "size": .int(manifest.totalSize),
            "missing": .array(missing.map { .string($0.hex) }),
        ]
    }

    func stageChunk(args: JSONValue, part: [UInt8]) throws -> JSONValue {
        guard let keyText = args["key"]?.stringValue, let key = Key(hex: keyText), case .int(let offset)? = args["offset"],
            case .int(let total)? = args["total"], total > 0, total <= Int64(Manifest.Artifact.chunkSizeRange.upperBound)
        else { throw APIError("stage.chunk needs key, offset and total") }
        if store.has(key) {
            partialUploads[key] = nil
            return ["stored": true, "received": .int(total)]
        }
        var buffer = offset == 0 ? [] : (partialUploads[key] ?? [])
        guard Int64(buffer.count) == offset else {
            partialUploads[key] = nil
            throw APIError("part of \(key.short) at offset \(offset), but \(buffer.count) bytes have arrived; start the chunk again")
        }
        buffer += part
        guard Int64(buffer.count) <= total else { throw APIError("chunk \(key.short) is longer than its total") }
        if Int64(buffer.count) < total {
            partialUploads[key] = buffer
            return ["stored": false, "received": .int(Int64(buffer.count))]
        }
        partialUploads[key] = nil
        try store.put(buffer, expecting: key)
        return ["stored": true, "received": .int(total)]
    }

    func stageCommit(args: JSONValue) throws -> JSONValue {
        guard let keyText = args["manifest"]?.stringValue, let key = Key(hex: keyText) else { throw APIError("stage.commit needs the manifest key") }
        guard let manifest = try store.manifest(key) else { throw APIError("manifest \(key.short) was not staged; run stage.begin first") }
        let missing = manifest.chunkKeys.filter { !store.has($0) }
        guard missing.isEmpty else { throw APIError("\(missing.count) chunks of \(key.short) have not arrived; stage again") }
        let label = args["label"]?.stringValue ?? ""
        let (version, isNew, actions) = machine.onStage(
            manifest: key, manifestSize: Int64(manifest.canonicalBytes.count), size: manifest.totalSize, label: label, now: now())
        perform(actions)
        return ["version": .int(Int64(version.rawValue)), "new": .bool(isNew), "manifest": .string(key.hex)]
    }

    func versionsList() -> JSONValue {
        let rows: [JSONValue] = machine.versions.keys.sorted().map { v in
            let r = machine.versions[v]!
            return [
                "version": .int(Int64(v.rawValue)), "status": .string(r.status.rawValue), "manifest": .string(r.manifest.hex),
                "label": .string(r.label), "size": .int(r.bundleSize), "staged_at": .string(r.stagedAt.rfc3339),
                "changed_at": .string(r.changedAt.rfc3339),
            ]
        }
        var out: [String: JSONValue] = ["versions": .array(rows)]
        if let active = machine.activeVersion { out["active"] = .int(Int64(active.rawValue)) }
        if let deploying = machine.deploying { out["deploying"] = .int(Int64(deploying.rawValue)) }
        return .object(out)
    }

    // MARK: Deploy

    func deploy(args: JSONValue) throws -> JSONValue {
        guard case .int(let v)? = args["version"], v > 0 else { throw APIError("deploy needs a version") }
        let version = Version(UInt64(v))
        let retry = args["retry"] == .bool(true)
        _ = try deploySelector(args, retry: retry)  // refused before the audit log records anything
        audit("deploy", detail: ["version": .int(v), "retry": .bool(retry), "args": args])
        return try rollOut(version, args: args, retry: retry)
    }

    func rollOut(_ version: Version, args: JSONValue, retry: Bool) throws -> JSONValue {
        guard let (topology, topologyKey) = topology else { throw APIError("no topology applied yet; `benctl topology apply FILE` first") }
        guard let record = machine.versions[version] else { throw APIError("\(version) does not exist; `benctl versions` lists them") }
        let timeout: Duration? = { if case .int(let s)? = args["timeout_s"], s > 0 { .seconds(s) } else { nil } }()
        var selector = try deploySelector(args, retry: retry) ?? Selector()
        let retryTargets = retry ? machine.retryTargets(version) : []
        if retry {
            guard record.status == .incomplete else { throw APIError(DeployRefusal.notIncomplete(version, record.status).description) }
            selector = Selector(nodes: retryTargets)
        }
        let stripes: Int? = { if case .int(let k)? = args["stripes"], k > 0 { Int(k) } else { nil } }()
        let now = now()
        // Two-phase or in waves: the first wave is what gets planned now, the others when they start.
        let rollout = retry ? nil : try rolloutRecord(args, selector: selector, topology: topology, timeout: timeout, now: now)
        if let rollout { selector = Selector(nodes: rollout.waves[0].nodes) }
        var plan: Plan
        var estimate = DeploymentMachine.PlanEstimate(transfer: .zero, depth: 0)
        var excluded: [Exclusion] = []
        if retry && retryTargets.isEmpty {
            // Nothing missing: the machine makes the version active at once; there is nothing to plan.
            plan = Plan(fleet: configuration.fleet, version: version, topology: topologyKey, nodes: [], stripes: [[]], backups: [])
        } else {
            let planned: PlannedDeployment
            do {
                planned = try Planner().plan(
                    topology,
                    Deployment(
                        version: version, topologyKey: topologyKey, selector: selector, down: silentNodes(now: now), stripes: stripes,
                        bundleSize: record.bundleSize))
            } catch {
                throw APIError("cannot plan \(version): \(error)")
            }
            plan = planned.plan
            excluded = planned.excluded
            if args["shape"]?.stringValue == "star" { plan = plan.asStar() }
            let cost = CostModel(topology: topology).evaluate(plan, topologyIndex: planned.topologyIndex, bundleSize: record.bundleSize, scheme: "plan")
            estimate = DeploymentMachine.PlanEstimate(transfer: .milliseconds(Int64(cost.completion * 1000)), depth: cost.depth)
        }
        let planKey = try store.putDocument(plan)
        let leftOut = Self.leftOut(excluded, heartbeats: heartbeats, declaredDead: gossipDeathReasons())
        let result: Result<[DeploymentMachine.Action], DeployRefusal>
        if retry {
            result = machine.onRetry(
                version, plan: plan, planKey: planKey, ledgerAddress: configuration.seedListen.description, timeout: timeout, estimate: estimate,
                leftOut: leftOut, now: now)
        } else {
            let supersede = args["supersede"] == .bool(true)
            result = machine.onDeploy(
                version, plan: plan, planKey: planKey, ledgerAddress: configuration.seedListen.description, timeout: timeout,
                estimate: estimate, leftOut: leftOut, supersede: supersede, rollout: rollout, now: now)
        }
        switch result {
        case .failure(let refusal): throw APIError(refusal.description)
        case .success(let actions):
            if retry { stopSeeding(version) }
            perform(actions)
        }
        let depth = (0..<plan.stripeCount).compactMap { plan.depths(stripe: $0)?.max() }.max() ?? 0
        var answer: [String: JSONValue] = [
            "version": .int(Int64(version.rawValue)), "status": .string(machine.versions[version]?.status.rawValue ?? "?"),
            "targets": .int(Int64(plan.nodes.count)), "stripes": .int(Int64(plan.stripeCount)),
            "depth": .int(Int64(depth)), "plan": .string(planKey.hex),
            "excluded": .array(excluded.map { .string($0.description) }),
            "deadline": .string(machine.versions[version]?.deployment?.announcement.deadline.rfc3339 ?? ""),
        ]
        if retry { answer["retrying"] = .array(retryTargets.map { .string($0.rawValue) }) }
        if let rollout { answer["rollout"] = rolloutAnswer(rollout) }
        return .object(answer)
    }

    /// Targets the plan left out that are still required, with the reason status shows until they ack. Nodes
    /// in maintenance are not required: the operator took them out.
    static func leftOut(
        _ excluded: [Exclusion], heartbeats: [NodeID: ReceivedHeartbeat], declaredDead: [NodeID: String] = [:]
    ) -> [NodeID: MissingReason] {
        var out: [NodeID: MissingReason] = [:]
        for exclusion in excluded {
            switch exclusion.reason {
            case .maintenance:
                continue
            case .down:
                if let dead = declaredDead[exclusion.node] {
                    out[exclusion.node] = MissingReason(.down, "\(dead) when the plan was made; it catches up when it returns")
                    continue
                }
                let heard = heartbeats[exclusion.node].map { "last heard \($0.receivedAt.rfc3339)" } ?? "never heard from"
                out[exclusion.node] = MissingReason(.down, "silent when the plan was made (\(heard)); it catches up when it returns")
            case .unreachable:
                out[exclusion.node] = MissingReason(.unreachable, "the plan found no parent for it under the fan-out and uplink limits")
            }
        }
        return out
    }

    /// Nodes heard from before that have been silent too long: planned around, so they catch up as orphans
    /// instead of holding a relay's children up.
    func silentNodes(now: Timestamp) -> [NodeID] {
        Liveness.down(heartbeats.mapValues(\.heard), membership: gossipMembership(now: now), now: now, after: configuration.silentAfter)
    }

    func rollback(args: JSONValue) throws -> JSONValue {
        guard case .int(let v)? = args["to"], let old = machine.versions[Version(UInt64(v))] else {
            throw APIError("rollback needs --to VERSION of an existing version")
        }
        _ = try deploySelector(args, retry: false)  // refused before a version is staged
        let label = args["label"]?.stringValue ?? "rollback to \(old.version)"
        let (version, _, actions) = machine.onStage(
            manifest: old.manifest, manifestSize: old.manifestSize, size: old.bundleSize, label: label, forceNew: true, now: now())
        perform(actions)
        audit("rollback", detail: ["to": .int(v), "as": .int(Int64(version.rawValue))])
        var deployArgs = args.objectValue ?? [:]
        deployArgs["version"] = .int(Int64(version.rawValue))
        return try rollOut(version, args: .object(deployArgs), retry: false)
    }

    // MARK: Reads

    func status(args: JSONValue) throws -> DeploymentStatus {
        let version: Version
        if case .int(let v)? = args["version"] {
            version = Version(UInt64(v))
        } else if let v = machine.deploying ?? machine.versions.values.filter({ $0.deployment != nil }).map(\.version).max() {
            version = v
        } else {
            throw APIError("nothing has been deployed yet; `benctl versions` lists what is staged")
        }
        guard let record = machine.versions[version] else { throw APIError("\(version) does not exist") }
        let deployment = record.deployment
        // A filter (`status --roles/--nodes/--locations`) narrows every count and list to the nodes it selects.
        let filter = try statusFilter(args)
        var locations: [NodeID: String] = [:]
        if let (topology, _) = topology {
            for (i, node) in topology.nodes.enumerated() { locations[node.id] = topology.location(of: i) }
        }
        let missing = (deployment?.missing ?? [:]).filter { filter?.contains($0.key) ?? true }.sorted { $0.key < $1.key }.map {
            DeploymentStatus.MissingNode(node: $0.key, location: locations[$0.key] ?? "?", reason: $0.value)
        }
        let acks = (deployment?.acks ?? [:]).filter { filter?.contains($0.key) ?? true }
        let required = (deployment?.required ?? []).filter { filter?.contains($0) ?? true }
        var stripes = 0
        var depth = 0
        var fanOut = 0
        if let planKey = deployment?.announcement.plan, let plan = try? Plan.decode(try store.get(planKey)) {
            stripes = plan.stripeCount
            depth = (0..<plan.stripeCount).compactMap { plan.depths(stripe: $0)?.max() }.max() ?? 0
            fanOut = Set((0..<plan.stripeCount).flatMap { s in plan.stripes[s].enumerated().filter { $0.element == Plan.ledger }.map(\.offset) }).count
        }
        let refused = acks.values.filter { $0.status == .refused }.count
        let active = filter == nil ? (deployment?.activeCount ?? 0) : required.filter { acks[$0]?.status == .active }.count
        var answers: [DeploymentStatus.NodeAnswer] = []
        if case .array(let named)? = args["nodes"] {
            for id in named.compactMap({ $0.stringValue.flatMap { NodeID($0) } }) {
                if let ack = deployment?.acks[id] {
                    answers.append(.init(node: id, status: ack.status.rawValue, at: ack.at, reason: ack.reason))
                } else {
                    answers.append(.init(node: id, status: "none", at: nil, reason: deployment?.missing[id]?.text ?? ""))
                }
            }
        }
        var status = DeploymentStatus(
            fleet: configuration.fleet, version: version, status: record.status.rawValue, manifest: record.manifest, label: record.label,
            attempt: deployment?.attempt ?? 0, required: required.count, active: active,
            refused: refused, issuedAt: deployment?.announcement.issuedAt, deadline: deployment?.announcement.deadline,
            changedAt: record.changedAt, missing: missing, groups: DeploymentStatus.group(missing),
            suspects: (deployment?.suspects ?? [:]).sorted { $0.key < $1.key }.map { DeploymentStatus.Suspect(node: $0.key, detail: $0.value) },
            bundleSize: record.bundleSize, ledgerEgress: egress[version] ?? 0, messagesAtLedger: messages[version] ?? 0,
            stripes: stripes, depth: depth, fanOut: fanOut)
        status.answers = answers
        status.alarms = recentAlarms()
        if let deployment {
            status.rollout = rolloutStatus(deployment)
            status.locations = locationProgress(deployment, filter: filter)
        }
        return status
    }

    func log(args: JSONValue) throws -> JSONValue {
        let after: Int64 = { if case .int(let a)? = args["after"] { a } else { 0 } }()
        let limit: Int = { if case .int(let l)? = args["limit"], l > 0 { Int(min(l, 10_000)) } else { 1000 } }()
        let entries = try database.auditEntries(after: after, limit: limit)
        return [
            "entries": .array(
                entries.map {
                    [
                        "seq": .int($0.seq), "at": .string($0.at.rfc3339), "kind": .string($0.kind), "operator": .string($0.operatorKey),
                        "detail": $0.detail, "hash": .string($0.hash),
                    ]
                })
        ]
    }

    func verifyLog() throws -> JSONValue {
        let result = try database.verifyAudit()
        var out: [String: JSONValue] = ["entries": .int(Int64(result.entries)), "ok": .bool(result.firstBad == nil)]
        if let bad = result.firstBad { out["first_bad"] = ["seq": .int(bad.seq), "problem": .string(bad.problem)] }
        return .object(out)
    }

    /// The nodes a status filter selects, or nil without a filter; unknown names are refused.
    func statusFilter(_ args: JSONValue) throws -> Set<NodeID>? {
        let request = try selectorRequest(args)
        guard !request.isEmpty else { return nil }
        guard let (topology, _) = topology else { throw APIError("no topology applied yet, so there is nothing to filter by") }
        let selector = try checkedSelector(request, in: topology, fields: selectorFields(args))
        return Set(selector.selectedNodes(in: topology).map { topology.nodes[$0].id })
    }

    /// Every node whose version differs from the fleet's, every node not heard from, and every node whose clock
    /// is off by more than the tolerance, by location.
    ///
    /// Silence is measured on the ledger's clock, from when it received a node's last heartbeat; a node's own
    /// timestamps only show its clock's offset (`clock_skew`) and never make it silent or keep it alive.
    func drift(args: JSONValue = [:]) throws -> JSONValue {
        guard let (topology, _) = topology else { throw APIError("no topology applied yet") }
        let filter = try statusFilter(args)
        let fleetVersion = machine.activeVersion ?? .none
        let now = now()
        var differing: [JSONValue] = []
        var silent: [JSONValue] = []
        var skewed: [JSONValue] = []
        var running: [String: JSONValue] = [:]
        var counted = 0
        for (i, node) in topology.nodes.enumerated() where !node.maintenance && (filter?.contains(node.id) ?? true) {
            counted += 1
            let location = topology.location(of: i)
            guard let heard = heartbeats[node.id] else {
                silent.append(["node": .string(node.id.rawValue), "location": .string(location), "last_heard": .null])
                continue
            }
            let beat = heard.beat
            if abs(heard.offset.milliseconds) > configuration.clockSkewTolerance.milliseconds {
                skewed.append([
                    "node": .string(node.id.rawValue), "location": .string(location), "offset_ms": .int(heard.offset.milliseconds),
                    "node_time": .string(beat.at.rfc3339), "last_heard": .string(heard.receivedAt.rfc3339),
                ])
            }
            if now - heard.receivedAt > configuration.silentAfter {
                silent.append(["node": .string(node.id.rawValue), "location": .string(location), "last_heard": .string(heard.receivedAt.rfc3339)])
                continue
            }
            running["\(beat.active.rawValue)", default: .int(0)] = .int((running["\(beat.active.rawValue)"]?.intValue ?? 0) + 1)
            if beat.active != fleetVersion {
                differing.append([
                    "node": .string(node.id.rawValue), "location": .string(location), "active": .int(Int64(beat.active.rawValue)),
                    "working": .string(beat.working), "last_heard": .string(heard.receivedAt.rfc3339),
                ])
            }
        }
        var out: [String: JSONValue] = [
            "fleet_version": .int(Int64(fleetVersion.rawValue)), "nodes": .int(Int64(counted)),
            "differing": .array(differing), "silent": .array(silent), "running": .object(running),
            "clock_skew": .array(skewed), "clock_skew_tolerance_ms": .int(configuration.clockSkewTolerance.milliseconds),
        ]
        if let deploying = machine.deploying { out["deploying"] = .int(Int64(deploying.rawValue)) }
        let latest = machine.versions.values.filter { $0.deployment != nil }.map(\.version).max()
        if let latest, latest != fleetVersion, let status = machine.versions[latest]?.status {
            out["latest"] = ["version": .int(Int64(latest.rawValue)), "status": .string(status.rawValue)]
        }
        return .object(out)
    }
}
