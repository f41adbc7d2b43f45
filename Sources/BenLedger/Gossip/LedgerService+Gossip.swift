import BenCore
import BenCrypto
public import BenProtocol
import BenShell
import BenTopology
import Logging

/// How the ledger gossips: on unless turned off. It joins as one more member (id `ledger`, in a rack of its own in
/// its zone) on its seed address's port over UDP, with the topology in force as the roster.
public struct LedgerGossipConfiguration: Sendable {
    public var enabled = true
    public var settings = GossipMachine.Settings()
    /// Test-only: while this file exists, gossip with the nodes it lists is dropped.
    public var faultPartitionFile: String?

    public init() {}
}

/// What the ledger's shell keeps about its gossip.
struct LedgerGossip {
    var shell: GossipShell?
    /// The last picture of membership (refreshed every second), for `benctl members` and for `down`.
    var snapshot: GossipShell.Snapshot?
    var locations: [NodeID: String] = [:]
    /// The topology gossip runs on (or is about to).
    var topologyKey: Key?
    /// Members declared dead, with when the ledger learnt it and the words `status` gives for them, as membership
    /// reported them.
    var dead: [NodeID: (at: Timestamp, reason: String)] = [:]
    /// The newest version announced to the whole fleet (on its announcement subject): the only announcements gossip
    /// carries. A rollout wave's announcement goes to its nodes by name and never into gossip, which would hand it
    /// to every node.
    var fleetWide: Version = .none
    /// The topologies gossip runs on: the one in force, then each one applied.
    let restarts = GossipRestarts()
}

/// The ledger's gossip wiring (issue 16, docs/gossip.md): it broadcasts every announcement it publishes, publishes
/// (here: records) the acks of nodes cut off from NATS that gossip pulls, keeps a record of every member
/// (`retainEveryMember`) for `benctl members`, and takes `down` from membership (`Liveness.down`).
extension LedgerService {
    /// Runs gossip while the ledger serves: from the topology in force, and again whenever one is applied.
    func runGossip() async {
        guard configuration.gossip.enabled else {
            logger.notice("gossip is off: down comes from heartbeat silence, and announcements and acks travel by NATS and the tree only")
            await gossip.restarts.idle()
            return
        }
        // The topology in force was handed over when it was installed (`install`, before this runs).
        await gossip.restarts.run(
            start: { directory in await self.gossipShell(on: directory) }, events: { event in await self.gossipEvent(event) },
            alongside: { shell in
                // The picture `members` and `down` read, refreshed every second while this shell runs.
                while !Task.isCancelled {
                    await self.gossipSnapshot(await shell.snapshot())
                    try? await Task.sleep(for: .seconds(1))
                }
            })
    }

    /// A shell on `directory`, as member `ledger`.
    func gossipShell(on directory: GossipDirectory) -> GossipShell {
        if directory.addresses[GossipDirectory.ledger] != configuration.seedListen {
            logger.warning(
                "the topology's ledger address differs from --seed-listen; nodes send gossip to the topology's",
                metadata: ["topology": "\(directory.addresses[GossipDirectory.ledger].map { "\($0)" } ?? "-")", "seed_listen": "\(configuration.seedListen)"])
        }
        var settings = GossipShell.Configuration(
            node: GossipDirectory.ledger, key: configuration.key, directory: directory, role: .ledger, listen: configuration.seedListen)
        settings.settings = configuration.gossip.settings
        settings.peerLink = configuration.peerLink
        settings.faultPartitionFile = configuration.gossip.faultPartitionFile
        let shell = GossipShell(configuration: settings, logger: logger)
        gossipStarted(shell, directory: directory)
        return shell
    }

    /// A topology was applied (or loaded): gossip restarts on it, unless it is the one gossip runs on already (applying
    /// the same file again keeps every member's state).
    func gossipTopologyChanged(_ topology: Topology) {
        guard configuration.gossip.enabled else { return }
        let directory = GossipDirectory(topology: topology, ledgerKeys: TrustedKeys([configuration.key.publicKey]))
        guard directory.topologyKey != gossip.topologyKey else { return }
        gossip.topologyKey = directory.topologyKey
        gossip.restarts.restart(on: directory)
    }

    func gossipStarted(_ shell: GossipShell, directory: GossipDirectory) {
        gossip.shell = shell
        gossip.snapshot = nil
        gossip.dead = [:]
        gossip.locations = directory.locations
        shell.distrust(revocations)
        let state = gossipVersionState()
        tasks.spawn { await shell.update(state) }
    }

    func gossipSnapshot(_ snapshot: GossipShell.Snapshot) {
        gossip.snapshot = snapshot
    }

    /// The ledger's digest: the newest version it announced to the whole fleet and that announcement (never a
    /// wave's, see `LedgerGossip.fleetWide`); it reaches itself.
    func gossipVersionState() -> GossipMachine.VersionState {
        let highest = gossip.fleetWide
        var state = GossipMachine.VersionState(highestAccepted: highest, active: machine.activeVersion ?? .none, natsConnected: true)
        if highest != .none, let bytes = announcements[highest] {
            state.announcement = GossipDocument(id: BLAKE2b.key(of: bytes), kind: .announcement, bytes: bytes)
        }
        (state.revocations, state.revocationDigest) = GossipRevocations.state(keptRevocationBytes)
        return state
    }

    /// Every announcement the ledger publishes on the fleet's announcement subject also goes into the broadcast tree.
    func gossipAnnouncement(_ bytes: [UInt8], version: Version) {
        gossip.fleetWide = max(gossip.fleetWide, version)
        guard let shell = gossip.shell else { return }
        let document = GossipDocument(id: BLAKE2b.key(of: bytes), kind: .announcement, bytes: bytes)
        let state = gossipVersionState()
        tasks.spawn {
            await shell.broadcast(document)
            await shell.update(state)
        }
    }

    /// Every activation the ledger publishes also goes into the broadcast tree, so a prepared node cut off from NATS
    /// swaps at the barrier too. A node that has not prepared that version ignores it.
    func gossipActivation(_ bytes: [UInt8]) {
        gossipSigned(bytes, kind: .activation)
    }

    /// A document the ledger signed (an activation, an alarm, a revocation) into the broadcast tree.
    func gossipSigned(_ bytes: [UInt8], kind: DocumentKind) {
        guard let shell = gossip.shell else { return }
        let document = GossipDocument(id: BLAKE2b.key(of: bytes), kind: kind, bytes: bytes)
        tasks.spawn { await shell.broadcast(document) }
    }

    func gossipEvent(_ event: GossipShell.Event) {
        switch event {
        case .publishAck(let document):
            guard mayAct("record an ack gossip brought"),
                let envelope = try? SignedEnvelope.decode(document.bytes, document: "ack", maxBytes: GossipWire.maxDocumentBytes),
                let ack = try? envelope.document(as: Ack.self)
            else { return }
            logger.info("an ack came by gossip", metadata: ["ben.node": "\(ack.node)", "ben.version": "\(ack.version)"])
            countMessage(ack.version)
            // Checked like any other: the node's own signature, against its key in the topology.
            ingest(Aggregate(fleet: configuration.fleet, version: ack.version, relay: ack.node, acks: [envelope], missing: []))
        case .memberChanged(let change):
            let metadata: Logger.Metadata = ["ben.node": "\(change.node)", "incarnation": "\(change.incarnation)"]
            switch change.status {
            case .dead:
                let at = now()
                gossip.dead[change.node] = (at, "declared dead by gossip at \(at.rfc3339) (incarnation \(change.incarnation))")
                logger.warning("member dead", metadata: metadata)
            case .suspect:
                gossip.dead[change.node] = nil
                logger.notice("member suspect", metadata: metadata)
            case .alive:
                gossip.dead[change.node] = nil
                logger.info("member alive", metadata: metadata)
            }
        case .deliver, .ackDelivered:
            // The ledger originates announcements and holds no ack of its own; nothing gossip delivers is news to it.
            break
        }
    }

    /// A GOSSIP frame on a link a member opened to the seed listener.
    func gossipOverLink(_ datagram: [UInt8], on link: LinkID) {
        links.close(link, bye: nil, reason: "gossip message received")
        guard let shell = gossip.shell else { return }
        tasks.spawn { await shell.receivedOverLink(datagram) }
    }

    // MARK: Down

    /// What membership says, when it can say anything: gossip runs and has heard from a member within
    /// `--silent-after` (a ledger whose gossip hears nobody must not call everyone dead).
    func gossipMembership(now: Timestamp) -> Liveness.Membership? {
        guard gossip.shell != nil, let snapshot = gossip.snapshot else { return nil }
        let latest = snapshot.members.compactMap(\.lastHeard).max()
        guard let latest, now - latest <= configuration.silentAfter else { return nil }
        return Liveness.Membership(dead: gossip.dead.mapValues(\.at))
    }

    /// The words `status` gives a node planned around because membership declared it dead.
    func gossipDeathReasons() -> [NodeID: String] {
        gossipMembership(now: now()) == nil ? [:] : gossip.dead.mapValues(\.reason)
    }

    // MARK: API

    /// `members`: membership by location as the ledger sees it (alive, suspect, dead, incarnation), with when the
    /// ledger last heard from each node (gossip or heartbeat) and what the node last said it had heard (its
    /// highest accepted version and the one it runs). A node gossip holds no record of is presumed alive at
    /// incarnation 0, as SWIM presumes every listed member alive until probes fail.
    func members(args: JSONValue) throws -> JSONValue {
        guard let (topology, _) = topology else { throw APIError("no topology applied yet; `benctl topology apply FILE`") }
        let filter = try statusFilter(args)
        let snapshot = gossip.snapshot
        let records = Dictionary(uniqueKeysWithValues: (snapshot?.members ?? []).map { ($0.node, $0) })
        var counts: [String: Int] = ["alive": 0, "suspect": 0, "dead": 0]
        var rows: [JSONValue] = []
        for (i, node) in topology.nodes.enumerated() where filter?.contains(node.id) ?? true {
            let record = records[node.id]
            let status = record?.status ?? .alive
            counts[status.rawValue, default: 0] += 1
            var row: [String: JSONValue] = [
                "node": .string(node.id.rawValue), "location": .string(topology.location(of: i)), "status": .string(status.rawValue),
                "incarnation": .int(Int64(record?.incarnation ?? 0)), "probed": .bool(record?.probed ?? false),
                "since": record.map { .string($0.since.rfc3339) } ?? .null,
            ]
            let byGossip = record?.lastHeard
            let byHeartbeat = heartbeats[node.id]?.receivedAt
            switch (byGossip, byHeartbeat) {
            case (let g?, let h?):
                row["last_heard"] = .string(max(g, h).rfc3339)
                row["heard_by"] = .string(g >= h ? "gossip" : "heartbeat")
            case (let g?, nil):
                row["last_heard"] = .string(g.rfc3339)
                row["heard_by"] = .string("gossip")
            case (nil, let h?):
                row["last_heard"] = .string(h.rfc3339)
                row["heard_by"] = .string("heartbeat")
            case (nil, nil):
                row["last_heard"] = .null
            }
            // What it last said it had heard: its digest (gossip) or its heartbeat, whichever is newer.
            let digest = snapshot?.heard[node.id]
            if let digest, byHeartbeat.map({ digest.at >= $0 }) ?? true {
                row["accepted"] = .int(Int64(digest.digest.highestAccepted.rawValue))
                row["active"] = .int(Int64(digest.digest.active.rawValue))
                row["reaches_ledger"] = .bool(digest.digest.ledgerReachable)
                row["said_at"] = .string(digest.at.rfc3339)
            } else if let beat = heartbeats[node.id] {
                row["active"] = .int(Int64(beat.beat.active.rawValue))
                row["said_at"] = .string(beat.receivedAt.rfc3339)
            }
            rows.append(.object(row))
        }
        var out: [String: JSONValue] = [
            "observer": .string(GossipDirectory.ledger.rawValue), "members": .array(rows),
            "counts": .object(counts.mapValues { .int(Int64($0)) }),
        ]
        if let snapshot {
            out["gossip"] = .string("on")
            out["incarnation"] = .int(Int64(snapshot.incarnation))
            out["local_health"] = .int(Int64(snapshot.localHealth))
            out["topology"] = .string(snapshot.topologyKey.hex)
            out["datagrams"] = ["sent": .int(Int64(snapshot.sent)), "received": .int(Int64(snapshot.received)), "refused": .int(Int64(snapshot.refused))]
        } else {
            out["gossip"] = .string(configuration.gossip.enabled ? "starting" : "off")
        }
        return .object(out)
    }

    /// `topology.get`: the topology in force as it was applied (YAML) and its key. An agent that fetches it keeps it
    /// only if the key is the one a signed announcement names.
    func topologyDocument() throws -> JSONValue {
        guard let (_, key) = topology, let yamlKey = try database.setting("topology").flatMap(Key.init(hex:)) else {
            throw APIError("no topology applied yet; `benctl topology apply FILE`")
        }
        return ["key": .string(key.hex), "yaml": .string(String(decoding: try store.get(yamlKey), as: UTF8.self))]
    }
}
