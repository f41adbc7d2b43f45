public import BenCore

/// The ledger's side of the peer links for one deployment: the root of every stripe tree.
///
/// It holds every chunk from the start, connects to the first level of each stripe tree, pushes each child its
/// subtrees, the manifest and its stripes' chunks, adopts the children of a first-level node it cannot reach,
/// serves pulls from orphans and from nodes refetching a tampered chunk, and hands every aggregate that reaches
/// it to the deployment machine (`.ingest`). Pure, like the agent machine.
public struct SeederMachine: Sendable {
    /// Limits and timings of the seeder's links; the defaults are what `ben-ledger` runs with.
    public struct Settings: Sendable, Hashable {
        /// Chunk frames in flight per child link.
        public var sendWindow: Int = 4
        /// Tries to reach a first-level node before adopting its children.
        public var linkAttempts: Int = 3
        /// Wait before the second try; the n-th try waits n times this.
        public var linkRetryDelay: Duration = .milliseconds(500)
        /// Pulls from the store wait while the seeding pushes move (issue 12: the one uplink the tree protects
        /// seeds first). Seeding that has sent no chunk for this long stops holding them back, so a first-level
        /// node that stopped reading cannot starve every puller.
        public var seedingGrace: Duration = .seconds(2)

        /// The defaults.
        public init() {}
    }

    /// The fleet being deployed to.
    public let fleet: FleetName
    /// The version being deployed.
    public let version: Version
    let targets: Set<NodeID>
    /// The plan this seeder pushes.
    public let plan: Plan
    let firstLevel: [Subtree]
    let announcement: [UInt8]
    var relay: RelayCore
    var pulls: PullServer
    /// When a seeding chunk last left, or when seeding was first looked at (for `Settings.seedingGrace`).
    var seedProgressAt: Timestamp?
    var pullsHeldTimerArmed = false
    let seedingGrace: Duration
    /// Nodes heard from on the ack tree at the root.
    public private(set) var reported: Set<NodeID> = []

    /// - Parameters:
    ///   - plan: the plan being deployed; `planKey` is its key.
    ///   - chunkKeys: `Manifest.chunkKeys` of the bundle.
    ///   - announcement: the signed announcement envelope, sent in every HELLO.
    ///   - alsoTargets: required nodes the plan left out (down when it was made): they may pull when they return.
    ///   - assignments: each plan node's signed assignment, by node index, sent down with the subtrees (empty:
    ///     none travel, as in the simulator).
    ///   - firstLink: where this seeder's link numbers start. The ledger runs several seeders over one set of
    ///     links (one per rollout, and a new one for each retry), so each gets its own range (`linkRange(_:)`).
    public init(
        plan: Plan, planKey: Key, manifest: Key, chunkKeys: [Key], announcement: [UInt8], settings: Settings = Settings(),
        alsoTargets: Set<NodeID> = [], assignments: [SignedEnvelope] = [], firstLink: UInt64 = 1
    ) {
        fleet = plan.fleet
        version = plan.version
        targets = Set(plan.nodes.map(\.id)).union(alsoTargets)
        self.plan = plan
        self.announcement = announcement
        var firstLevel: [Subtree] = []
        for s in 0..<plan.stripeCount {
            let children = plan.children(stripe: s)
            for i in children[plan.nodes.count] {
                firstLevel.append(
                    plan.subtree(of: Int(i), stripe: s, planKey: planKey, children: children, depth: 1, assignments: assignments))
            }
        }
        self.firstLevel = firstLevel
        relay = RelayCore(
            fleet: plan.fleet, version: plan.version, me: AgentMachine.ledgerID, manifestKey: manifest, stripeCount: plan.stripeCount,
            chunkKeys: chunkKeys, have: ChunkSet.full(count: chunkKeys.count),
            settings: .init(sendWindow: settings.sendWindow, linkAttempts: settings.linkAttempts, linkRetryDelay: settings.linkRetryDelay),
            firstLink: firstLink)
        pulls = PullServer(window: settings.sendWindow)
        seedingGrace = settings.seedingGrace
    }

    /// The first link number of the n-th seeder a ledger starts: 2^32 numbers each, so no two seeders' links
    /// share an id while one of them is still closing.
    public static func linkRange(_ n: UInt32) -> UInt64 { UInt64(n) << 32 | 1 }

    /// Connects to the first level of every stripe tree.
    public mutating func start() -> [Action] {
        firstLevel.flatMap { lift(relay.addChild($0)) }
    }

    /// The key of the bundle's chunk number `index`.
    public func chunkKey(_ index: Int) -> Key? {
        guard let keys = relay.chunkKeys, index >= 0, index < keys.count else { return nil }
        return keys[index]
    }

    /// Nodes the root is pushing to directly, by stripe tree: the ledger's fan-out.
    public var fanOut: Int { relay.children.count }

    /// An outbound link connected: the seeder sends its HELLO.
    public mutating func onLinkConnected(_ link: LinkID, now: Timestamp) -> [Action] {
        lift(relay.onConnected(link, announcement: announcement))
    }

    /// A HELLO arrived on `link`: a child's accept (what it already holds), or a node asking to pull.
    public mutating func onHello(_ link: LinkID, hello: Hello, now: Timestamp) -> [Action] {
        guard hello.header == relay.header, hello.purpose == .accept else {
            return [.close(link, .protocolError, reason: "unexpected HELLO")]
        }
        return lift(relay.onAccepted(link, hello: hello))
    }

    /// A node connected to pull chunks from the store.
    public mutating func onLinkAccepted(_ link: LinkID, hello: Hello, now: Timestamp) -> [Action] {
        guard hello.purpose == .pull, hello.header == relay.header else {
            return [.close(link, .protocolError, reason: "the ledger accepts only pulls for \(relay.header.version)")]
        }
        guard targets.contains(hello.node) else {
            return [.close(link, .notTargeted, reason: "\(hello.node) is not a target of \(version)")]
        }
        pulls.open(link, peer: hello.node)
        let accept = Hello(header: relay.header, purpose: .accept, node: AgentMachine.ledgerID, hasManifest: true, have: relay.have)
        return [.send(link, .hello(accept))]
    }

    /// A NACK arrived: chunks a child or a puller asks for, or says were tampered.
    public mutating func onNack(_ link: LinkID, entries: [NackEntry], now: Timestamp) -> [Action] {
        if pulls.isServing(link) {
            var actions = prioritise(now: now)
            actions += lift(pulls.onWant(link, entries: entries, have: relay.have, chunkKeys: relay.chunkKeys, manifest: relay.manifestKey))
            return actions + prioritise(now: now)
        }
        return lift(relay.onChildNack(link, entries: entries)) + prioritise(now: now)
    }

    /// A chunk was handed to `link`'s channel: the next may go. `now` (the shell's clock) dates seeding progress;
    /// without it, pulls are not held back.
    public mutating func onChunkSent(_ link: LinkID, index: Int, now: Timestamp? = nil) -> [Action] {
        if pulls.isServing(link) { return lift(pulls.onSent(link, chunkKeys: relay.chunkKeys)) }
        let actions = lift(relay.onSent(link, index: index))
        guard let now else { return actions + lift(pulls.release(chunkKeys: relay.chunkKeys)) }
        seedProgressAt = now
        return actions + prioritise(now: now)
    }

    /// Holds pulls from the store while seeding moves, and sends them once it is done or has stopped moving.
    mutating func prioritise(now: Timestamp) -> [Action] {
        let since = seedProgressAt ?? now
        seedProgressAt = since
        guard relay.isPushing, now - since < seedingGrace else { return lift(pulls.release(chunkKeys: relay.chunkKeys)) }
        pulls.hold()
        guard pulls.hasQueued, !pullsHeldTimerArmed else { return [] }
        pullsHeldTimerArmed = true
        return [.armTimer(.pullsHeld(version), at: since + seedingGrace)]
    }

    /// An aggregate arrived from a first-level node: on to the deployment machine.
    public mutating func onAck(_ link: LinkID, aggregate: Aggregate, now: Timestamp) -> [Action] {
        guard let child = relay.child(on: link) else {
            return [.report(.protocolViolation(link, "ACK on a link that is not to a first-level node"))]
        }
        reported.insert(child)
        return [.ingest(aggregate)] + lift(relay.onReported(child, acks: aggregate.ackNodes))
    }

    /// The far side said BYE; a child refusing the announcement has its children adopted.
    public mutating func onBye(_ link: LinkID, code: ByeCode, reason: String, now: Timestamp) -> [Action] {
        if code == .refusedAnnouncement, let child = relay.onRefused(link, reason: reason) {
            var actions: [Action] = [.close(link, nil, reason: "child refused: \(reason)")]
            actions.append(.ingest(missingReport(child, MissingReason(.refused, reason))))
            if let entry = relay.children[child] {
                for stripe in entry.subtrees.keys.sorted() {
                    let subtree = entry.subtrees[stripe]!
                    for grandchild in subtree.children(of: 0) { actions += lift(relay.addChild(subtree.subtree(at: grandchild))) }
                }
            }
            return actions
        }
        return [.close(link, nil, reason: "peer said: \(code) \(reason)")] + onLinkFailed(link, reason: "peer closed: \(reason)", now: now)
    }

    /// A link failed or closed; an unreachable first-level node is retried, then its children adopted and it is reported missing.
    public mutating func onLinkFailed(_ link: LinkID, reason: String, now: Timestamp) -> [Action] {
        if pulls.close(link) { return [] }
        let (relayActions, gaveUp) = relay.onLinkFailed(link, reason: reason, now: now)
        let actions = lift(relayActions)
        guard let (child, _) = gaveUp else { return actions }
        return actions + [.ingest(missingReport(child, MissingReason(.unreachable, reason)))]
    }

    /// A timer the seeder armed fired.
    public mutating func onTimer(_ timer: Timer, now: Timestamp) -> [Action] {
        switch timer {
        case .linkRetry(let v, let child):
            guard v == version else { return [] }
            return lift(relay.onRetry(child))
        case .pullsHeld(let v):
            guard v == version else { return [] }
            pullsHeldTimerArmed = false
            return prioritise(now: now)
        }
    }

    /// Closes every link (the deployment is over or superseded).
    public mutating func stop(reason: String) -> [Action] {
        let links = relay.openLinks + pulls.openLinks
        return links.map { .close($0, .done, reason: reason) }
    }

    func missingReport(_ node: NodeID, _ reason: MissingReason) -> Aggregate {
        Aggregate(fleet: fleet, version: version, relay: AgentMachine.ledgerID, acks: [], missing: [.init(node: node, reason: reason)])
    }
}
