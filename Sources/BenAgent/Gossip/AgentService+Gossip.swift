import BenCore
import BenCrypto
import BenNATS
import BenPeerLink
import BenProtocol
import BenShell
import BenTopology
import Logging

/// The agent's gossip wiring (issue 16, docs/gossip.md): a `GossipShell` on the node's topology address (its port,
/// over UDP), told the node's version state and whom to watch, and acted on as gossip decides:
///
/// - an announcement gossip delivers goes through `announce`, the very path a NATS announcement takes (verified,
///   accepted or refused by the machine; chunks then come from plan parents, backups or the ledger's store);
/// - a peer's ack that gossip pulled (this node has NATS, the peer does not) is published on `ben.<fleet>.ack`;
/// - a member gossip declares dead is handed to the machine, which adopts that child's children at once.
extension AgentService {
    // MARK: Starting

    /// Runs gossip for as long as the agent runs: from the first topology it knows, and again on a newer one (the
    /// shell of the older one is stopped first).
    func runGossip() async {
        guard configuration.gossip.enabled else {
            logger.notice("gossip is off (--gossip off): no membership, and announcements and acks travel by NATS and the tree only")
            await gossip.restarts.idle()
            return
        }
        startGossipFromKnownTopology()
        await gossip.restarts.run(start: { directory in await self.gossipShell(on: directory) }, events: { event in await self.gossipEvent(event) })
    }

    /// A shell on `directory`, unless the topology does not list this node.
    func gossipShell(on directory: GossipDirectory) -> GossipShell? {
        guard directory.roster.contains(configuration.node) else {
            logger.error(
                "this node is not in the topology gossip was given; gossip stays off until one lists it",
                metadata: ["topology": "\(directory.topologyKey.short)"])
            return nil
        }
        var settings = GossipShell.Configuration(
            node: configuration.node, key: configuration.key, directory: directory, role: .agent, listen: configuration.listen)
        settings.settings = configuration.gossip.settings
        settings.peerLink = configuration.peerLink
        settings.clockOffset = configuration.clockOffset
        settings.faultPartitionFile = configuration.gossip.faultPartitionFile
        let shell = GossipShell(configuration: settings, logger: logger)
        gossipStarted(shell, directory: directory)
        return shell
    }

    /// `--topology`, else the topology kept from an earlier fetch.
    func startGossipFromKnownTopology() {
        if let topology = configuration.gossip.topology {
            gossip.restarts.restart(on: GossipDirectory(topology: topology, ledgerKeys: configuration.trustedLedgerKeys))
            return
        }
        do {
            if let topology = try CachedTopology(stateDirectory: configuration.stateDirectory).load() {
                gossip.restarts.restart(on: GossipDirectory(topology: topology, ledgerKeys: configuration.trustedLedgerKeys))
                return
            }
        } catch {
            logger.warning("the topology kept for gossip is unreadable; fetching it again", metadata: ["error": "\(error)"])
        }
        logger.notice("gossip starts once an accepted announcement names a topology the ledger serves (or pass --topology)")
    }

    func gossipStarted(_ shell: GossipShell, directory: GossipDirectory) {
        // A member that opens a peer link for a GOSSIP frame proves the key the topology lists for it, as links to
        // the ledger do; it still needs a signed assignment to pull chunks, and a PLAN its plan authority.
        configuration.peerLink.security?.know(keys: directory.nodeKeys)
        gossip.shell = shell
        gossip.directory = directory
        shell.distrust(revocations)
        gossip.told = nil
        gossip.watching = []
        tellGossip(after: nil)
    }

    // MARK: Telling gossip what changed

    /// After the machine's actions (nil: unconditionally), tells gossip the node's version state and the plan
    /// neighbours to watch, if they changed, and fetches the topology an accepted announcement names if gossip does
    /// not have it.
    func tellGossip(after actions: [AgentMachine.Action]?) {
        var stateMayHaveChanged = actions == nil
        var neighboursMayHaveChanged = actions == nil
        for action in actions ?? [] {
            switch action {
            case .persist, .activate:
                stateMayHaveChanged = true
            case .report(.announcementAccepted):
                stateMayHaveChanged = true
                neighboursMayHaveChanged = true
                fetchTopologyIfNeeded()
            case .connect, .close, .report(.childUnreachable), .send(_, .hello):
                neighboursMayHaveChanged = true
            default:
                break
            }
        }
        guard let shell = gossip.shell else { return }
        if stateMayHaveChanged {
            let state = gossipVersionState()
            if state != gossip.told {
                gossip.told = state
                tasks.spawn { await shell.update(state) }
            }
        }
        if neighboursMayHaveChanged {
            let watch = machine.watchList
            if watch != gossip.watching {
                gossip.watching = watch
                tasks.spawn { await shell.watch(watch) }
            }
        }
    }

    /// NATS came or went: the digest says whether this node reaches the ledger.
    func natsStateChanged() {
        tellGossip(after: nil)
        fetchTopologyIfNeeded()
    }

    func followConnectionState(_ connection: NATSConnection) async {
        for await event in connection.events() {
            switch event {
            case .reconnected:
                natsStateChanged()
                // What the ledger sent while this node was away: the streams keep it.
                tasks.spawn { await self.catchUpSigned(connection) }
            case .disconnected, .closed: natsStateChanged()
            case .lameDuckMode, .error: break
            }
        }
    }

    /// The node's version state as gossip digests it: only signed documents are in it, and only announcements the
    /// whole fleet was sent (`AgentGossip.fleetWide`): a node that accepted a wave's announcement says it has heard
    /// up to the last fleet-wide one, so that no peer pulls the wave's from it.
    func gossipVersionState() -> GossipMachine.VersionState {
        let highest = min(machine.record.highestAccepted, gossip.fleetWide)
        var state = GossipMachine.VersionState(highestAccepted: highest, active: machine.activeVersion, natsConnected: nats?.status == .connected)
        if let (announcement, envelope) = machine.acceptedAnnouncement, announcement.version == highest {
            state.announcement = GossipDocument(id: BLAKE2b.key(of: envelope), kind: .announcement, bytes: envelope)
        }
        if let answer = machine.record.lastAnswer {
            let bytes = answer.envelope.canonicalBytes
            state.ack = GossipDocument(id: BLAKE2b.key(of: bytes), kind: .ack, bytes: bytes)
            state.ackVersion = answer.version
        }
        (state.revocations, state.revocationDigest) = GossipRevocations.state(revocationEnvelopes.map(\.canonicalBytes))
        return state
    }

    // MARK: What gossip decided

    func gossipEvent(_ event: GossipShell.Event) {
        switch event {
        case .deliver(let document, let from):
            switch document.kind {
            case .announcement:
                logger.info("announcement by gossip", metadata: ["peer.node": "\(from)", "document": "\(document.id.short)"])
                announce(document.bytes, fleetWide: true)
            case .activation:
                // The same signed activation NATS carries; the machine takes it only for a version this node prepared.
                logger.info("activation by gossip", metadata: ["peer.node": "\(from)", "document": "\(document.id.short)"])
                if let incoming = readActivation(document.bytes) { handle(.activation(incoming)) }
            case .alarm:
                // The same signed alarm NATS carries: a node cut off from NATS stops the version too.
                logger.info("alarm by gossip", metadata: ["peer.node": "\(from)", "document": "\(document.id.short)"])
                takeAlarm(document.bytes, via: "gossip")
            case .revocation:
                logger.info("revocation by gossip", metadata: ["peer.node": "\(from)", "document": "\(document.id.short)"])
                takeRevocation(document.bytes, via: "gossip")
            case .ack:
                logger.notice("gossip delivered an ack; acks reach this agent only to be published", metadata: ["peer.node": "\(from)"])
            }
        case .publishAck(let document):
            relayAck(document)
        case .ackDelivered(let id, let by):
            logger.info("ack relayed to the ledger by a peer", metadata: ["peer.node": "\(by)", "document": "\(id.short)"])
        case .memberChanged(let change):
            memberChanged(change)
        }
    }

    /// Publishes a signed ack gossip pulled from a peer that cannot reach NATS (or this node's own, once NATS is
    /// back), as an aggregate of one. The ledger checks the ack's own signature, and records it once however many
    /// peers publish it (acks are idempotent).
    func relayAck(_ document: GossipDocument) {
        guard let envelope = try? SignedEnvelope.decode(document.bytes, document: "ack", maxBytes: GossipWire.maxDocumentBytes),
            let ack = try? envelope.document(as: Ack.self)
        else { return }
        let aggregate = Aggregate(fleet: configuration.fleet, version: ack.version, relay: configuration.node, acks: [envelope], missing: [])
        publish(aggregate.canonicalBytes, to: NATSSubjects.ack(configuration.fleet))
        if ack.node == configuration.node {
            logger.info("ack published now that NATS is back (no peer had taken it)", metadata: ["ben.version": "\(ack.version)"])
        } else {
            logger.info("relayed a peer's signed ack to the ledger", metadata: ["peer.node": "\(ack.node)", "ben.version": "\(ack.version)", "status": "\(ack.status.rawValue)"])
        }
    }

    func memberChanged(_ change: MemberChange) {
        let metadata: Logger.Metadata = ["peer.node": "\(change.node)", "incarnation": "\(change.incarnation)", "status": "\(change.status)"]
        if change.node == configuration.node {
            logger.notice("refuted a suspicion of this node", metadata: metadata)
            return
        }
        switch change.status {
        case .alive: logger.info("member alive", metadata: metadata)
        case .suspect: logger.notice("member suspect", metadata: metadata)
        case .dead:
            logger.warning("member dead", metadata: metadata)
            handle(.memberDead(change.node, reason: "declared dead by gossip (incarnation \(change.incarnation))"))
        }
    }

    /// A GOSSIP frame: the first and only frame of a link a member opened for a message too large for a datagram.
    func gossipOverLink(_ datagram: [UInt8], on link: LinkID) {
        let first = unintroduced.remove(link) != nil
        links.close(link, bye: nil, reason: first ? "gossip message received" : "a GOSSIP frame on a link already in use")
        guard first, let shell = gossip.shell else { return }
        tasks.spawn { await shell.receivedOverLink(datagram) }
    }

    // MARK: The topology from the ledger

    /// Fetches the topology the accepted announcement names, unless gossip has it (or has `--topology`).
    func fetchTopologyIfNeeded() {
        guard configuration.gossip.enabled, configuration.gossip.topology == nil, !gossip.fetching, let nats, nats.status == .connected,
            let (announcement, _) = machine.acceptedAnnouncement, announcement.topology != gossip.directory?.topologyKey
        else { return }
        gossip.fetching = true
        let wanted = announcement.topology
        let subject = NATSSubjects.api(configuration.fleet, verb: "topology.get")
        tasks.spawn {
            let outcome: Result<String, any Error>
            do {
                let reply = try await nats.request(try CanonicalJSON.encode([:]), subject: subject, timeout: .seconds(10))
                let answer = try JSONParser.parse(reply.payload, limits: .init(maxBytes: 64 << 20))
                guard let yaml = answer["yaml"]?.stringValue else {
                    throw AgentError.configuration(answer["error"]?.stringValue ?? "the ledger's answer has no topology")
                }
                outcome = .success(yaml)
            } catch {
                outcome = .failure(error)
            }
            await self.topologyFetched(outcome, wanted: wanted)
        }
    }

    /// Accepts a fetched topology only if it is the one the signed announcement names.
    func topologyFetched(_ outcome: Result<String, any Error>, wanted: Key) {
        gossip.fetching = false
        switch outcome {
        case .failure(let error):
            logger.warning("cannot fetch the topology for gossip; trying again at the next announcement", metadata: ["error": "\(error)"])
        case .success(let yaml):
            let topology: Topology
            do {
                topology = try Topology(yaml: yaml, file: "the ledger's topology")
            } catch {
                logger.warning("the ledger's topology is unreadable; gossip waits", metadata: ["error": "\(error)"])
                return
            }
            let directory = GossipDirectory(topology: topology, ledgerKeys: configuration.trustedLedgerKeys)
            guard directory.topologyKey == wanted else {
                logger.notice(
                    "the ledger serves another topology than the announcement names; gossip waits for the next announcement",
                    metadata: ["served": "\(directory.topologyKey.short)", "announced": "\(wanted.short)"])
                return
            }
            do {
                try CachedTopology(stateDirectory: configuration.stateDirectory).save(yaml)
            } catch {
                logger.warning("cannot keep the topology for the next start", metadata: ["error": "\(error)"])
            }
            logger.info("gossip has the announced topology", metadata: ["topology": "\(wanted.short)", "members": "\(directory.roster.count)"])
            gossip.restarts.restart(on: directory)
        }
    }
}

