import BenCore
import BenCrypto
import BenNATS
import BenPeerLink
package import BenProtocol
import BenStore
import BenTopology
import Logging

extension LedgerService {
    // MARK: Deployment machine actions

    /// Carries out what the deployment machine decided, in order: state is durable before anything goes out.
    func perform(_ actions: [DeploymentMachine.Action], envelopes: [NodeID: [UInt8]] = [:]) {
        guard actions.isEmpty || mayAct("carry out \(actions.count) deployment actions") else { return }
        for action in actions {
            switch action {
            case .persist(let record):
                do {
                    try database.save(record)
                } catch {
                    logger.critical("cannot persist a version; stopping rather than acting on state that is not durable", metadata: ["error": "\(error)"])
                    tasks.finish()
                    return
                }
            case .recordAck(let ack):
                do {
                    try database.recordAck(ack, envelope: envelopes[ack.node] ?? [])
                } catch {
                    logger.error("cannot record an ack", metadata: ["ben.node": "\(ack.node)", "error": "\(error)"])
                }
            case .audit(let event):
                audit(event.kind, detail: auditDetail(event))
            case .publishAnnouncement(let announcement):
                publish(announcement)
            case .startSeeding(let version, let planKey):
                startSeeding(version, planKey: planKey)
            case .askForAnswers(let version, let nodes):
                askForAnswers(version, nodes: nodes)
            case .stopSeeding(let version):
                stopSeeding(version)
            case .armDeadline(let version, let at):
                arm(.deadline(version), at: at)
            case .report(let report):
                logger.warning("\(report)")
            case .refused(let refusal):
                logger.notice("deploy refused", metadata: ["reason": "\(refusal)"])
            case .planWave, .publishActivation, .publishAlarm, .armTimer, .rollBack, .rolloutRefused, .announceTo:
                performRollout(action)
            }
        }
    }

    func auditDetail(_ event: AuditEvent) -> JSONValue {
        switch event {
        case .staged(let v, let manifest, let label):
            ["version": .int(Int64(v.rawValue)), "manifest": .string(manifest.hex), "label": .string(label)]
        case .transition(let v, let from, let to, let detail):
            ["version": .int(Int64(v.rawValue)), "from": .string(from.rawValue), "to": .string(to.rawValue), "detail": .string(detail)]
        case .rollout(let v, let step, let detail):
            ["version": .int(Int64(v.rawValue)), "step": .string(step), "detail": .string(detail)]
        }
    }

    func audit(_ kind: String, detail: JSONValue) {
        do {
            try database.appendAudit(kind: kind, operatorKey: currentOperator, detail: detail, at: now())
        } catch {
            logger.error("cannot append to the audit log", metadata: ["kind": "\(kind)", "error": "\(error)"])
        }
    }

    /// Signs the announcement, keeps the envelope for the seeders' HELLOs, and publishes it to JetStream
    /// (which keeps the latest per fleet, so a node that was down catches up).
    func publish(_ announcement: Announcement) {
        let (_, bytes) = signUnderEpoch(announcement)
        announcements[announcement.version] = bytes
        try? database.setSetting("announcement.\(announcement.version.rawValue)", Hex.encode(bytes))
        publish(envelope: bytes, version: announcement.version)
    }

    /// Publishes a signed announcement to JetStream, retrying while the server is briefly away.
    func publish(envelope bytes: [UInt8], version: Version) {
        guard let nats, mayAct("publish the announcement of \(version)") else { return }
        gossipAnnouncement(bytes, version: version)
        let subject = NATSSubjects.announce(configuration.fleet)
        let logger = logger
        tasks.spawn {
            do {
                var options = JetStream.PublishOptions()
                // Same bytes, same id: a retry after a blip is stored once; a re-publish after a replay is new.
                options.messageID = BLAKE2b.key(of: bytes).short + "-\(self.now().millisecondsSinceEpoch)"
                _ = try await nats.jetStream().publish(bytes, subject: subject, options: options)
                logger.info("announced", metadata: ["ben.version": "\(version)"])
            } catch {
                logger.error("cannot publish the announcement; nodes will learn it from their parents", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Asks each node by name for the signed answer it may hold already (`ben.<fleet>.node.<id>.answer`); those
    /// that have one publish it on the ack subject, where it is verified like any other.
    func askForAnswers(_ version: Version, nodes: [NodeID]) {
        guard let nats else { return }
        let payload = (try? CanonicalJSON.encode(["version": .int(Int64(version.rawValue))])) ?? []
        let fleet = configuration.fleet
        let logger = logger
        logger.info("asking nodes for their answers again", metadata: ["ben.version": "\(version)", "nodes": "\(nodes.count)"])
        tasks.spawn {
            for node in nodes {
                do {
                    try await nats.publish(payload, subject: NATSSubjects.nodeAnswer(fleet, node: node))
                } catch {
                    logger.warning("cannot ask a node for its answer", metadata: ["ben.node": "\(node)", "error": "\(error)"])
                }
            }
        }
    }

    // MARK: Seeding

    func startSeeding(_ version: Version, planKey: Key) {
        guard seeders[version] == nil else { return }
        guard let seeder = makeSeeder(version, planKey: planKey) else { return }
        var machine = seeder
        let actions = machine.start()
        seeders[version] = Seeding(machine: machine, plan: machine.plan, header: FrameHeader(fleet: configuration.fleet, version: version))
        logger.info("seeding", metadata: ["ben.version": "\(version)", "first level": "\(machine.fanOut)", "stripes": "\(machine.plan.stripeCount)"])
        performSeeder(version, actions)
    }

    /// A seeder for `version`'s current plan, not yet pushing anything.
    func makeSeeder(_ version: Version, planKey: Key) -> SeederMachine? {
        guard let record = machine.versions[version], let envelope = announcements[version] else {
            logger.error("cannot seed: no announcement for the version", metadata: ["ben.version": "\(version)"])
            return nil
        }
        do {
            let plan = try Plan.decode(try store.get(planKey))
            guard let manifest = try store.manifest(record.manifest) else { throw LedgerError.io(path: store.path(of: record.manifest), detail: "unreadable manifest") }
            for artifact in manifest.artifacts {
                for (i, key) in artifact.chunks.enumerated() { chunkBytes[key] = artifact.chunkLength(i) }
            }
            seedersStarted += 1
            let epoch = record.deployment?.announcement.epoch ?? 0
            return SeederMachine(
                plan: plan, planKey: planKey, manifest: record.manifest, chunkKeys: manifest.chunkKeys, announcement: envelope,
                alsoTargets: record.deployment?.reachable ?? [],
                assignments: try AssignmentSigner.sign(plan, planKey: planKey, epoch: epoch, keys: nodeKeys, with: configuration.key),
                firstLink: SeederMachine.linkRange(seedersStarted))
        } catch {
            logger.error("cannot seed", metadata: ["ben.version": "\(version)", "error": "\(error)"])
            return nil
        }
    }

    /// A node pulls a version whose trees are no longer being pushed (it came back after the deadline): the
    /// store still serves it while the version is not final, so its late ack can make the version active.
    func pullOnlySeeding(_ version: Version) -> Seeding? {
        if let seeding = seeders[version] { return seeding }
        guard let record = machine.versions[version], record.status == .deploying || record.status == .incomplete,
            let planKey = record.deployment?.announcement.plan, let seeder = makeSeeder(version, planKey: planKey)
        else { return nil }
        let seeding = Seeding(machine: seeder, plan: seeder.plan, header: FrameHeader(fleet: configuration.fleet, version: version))
        seeders[version] = seeding
        return seeding
    }

    func stopSeeding(_ version: Version) {
        guard var seeding = seeders[version] else { return }
        let actions = seeding.machine.stop(reason: "\(version) is \(machine.versions[version]?.status.rawValue ?? "over")")
        seeders[version] = seeding
        performSeeder(version, actions)
        seeders[version] = nil
    }

    /// Carries out a seeder's actions for one rollout.
    func performSeeder(_ version: Version, _ actions: [SeederMachine.Action]) {
        guard let header = seeders[version]?.header, actions.isEmpty || mayAct("seed \(version)") else { return }
        for action in actions {
            switch action {
            case .connect(let link, let peer, _):
                linkVersion[link] = version
                seeders[version]?.links.insert(link)
                linkPeer(link, peer.id)
                connect(link, to: peer)
            case .send(let link, let frame):
                links.send(link, frame, header: header)
            case .close(let link, let code, let reason):
                links.close(link, bye: code.map { ($0, reason, header) }, reason: reason)
            case .ingest(let aggregate):
                // Reports the seeder makes itself (a first-level node unreachable) are not messages that arrived.
                if aggregate.relay.rawValue != "ledger" { messages[version, default: 0] += 1 }
                ingest(aggregate)
            case .armTimer(let timer, let at):
                arm(.seeder(version, timer), at: at)
            case .cancelTimer(let timer):
                runtime.cancel(.seeder(version, timer))
            case .report(let report):
                logger.notice("\(report)", metadata: ["ben.version": "\(version)"])
            }
        }
    }

    /// Feeds one input to the seeder of the rollout `link` belongs to, and carries out what it decides.
    func seed(_ link: LinkID, _ input: SeederMachine.Input) {
        guard let version = linkVersion[link], var seeding = seeders[version] else { return }
        let actions = seeding.machine.handle(input, now: now())
        seeders[version] = seeding
        performSeeder(version, actions)
    }

    func connect(_ link: LinkID, to peer: PlanNode) {
        runtime.connect(
            link, to: peer, settings: configuration.peerLink, handlers: handlers,
            connected: { await self.seed(link, .linkConnected(link)) },
            failed: { reason in await self.linkClosed(link, reason) })
    }

    package func linkClosed(_ link: LinkID, _ reason: String) {
        unintroduced.remove(link)
        provenPeer.removeValue(forKey: link)
        seed(link, .linkFailed(link, reason: reason))
        linkVersion[link] = nil
        linkGone(link)
    }

    package func chunkWritten(_ link: LinkID, _ index: Int) {
        guard let version = linkVersion[link] else { return }
        egress[version, default: 0] += chunkLength(version: version, index: index)
        countSent(link, bytes: chunkLength(version: version, index: index))
        seed(link, .chunkSent(link, index: index))
    }

    func chunkLength(version: Version, index: Int) -> Int64 {
        guard let key = seeders[version]?.machine.chunkKey(index) else { return 0 }
        return chunkBytes[key] ?? 0
    }

    /// A frame on one of the seeders' links: which frames the ledger takes, and from whom, is
    /// `LedgerLinkPolicy`'s decision.
    package func receive(_ frame: PeerFrame, on link: LinkID) {
        let first = unintroduced.remove(link) != nil
        if case .hello(let hello) = frame, let proven = provenPeer[link], hello.node != proven.node {
            links.close(link, bye: nil, reason: "its HELLO says \(hello.node), but its handshake proved \(proven.node)")
            return
        }
        switch LedgerLinkPolicy.admit(frame, firstOnLink: first) {
        case .refuse(let reason):
            links.close(link, bye: nil, reason: reason)
        case .gossip(let datagram):
            gossipOverLink(datagram, on: link)
        case .pull(let hello):
            guard let seeding = pullOnlySeeding(hello.header.version) else {
                links.close(link, bye: nil, reason: "no rollout of that version is in progress")
                return
            }
            linkVersion[link] = hello.header.version
            linkPeer(link, hello.node)
            seeders[hello.header.version] = seeding
            // Pulls from the store share one flow's worth of the uplink; the stripe trees keep the rest.
            links.servesPuller(link)
            seed(link, .linkAccepted(link, hello: hello))
        case .seeder:
            switch frame {
            case .hello(let hello):
                seed(link, .hello(link, hello))
            case .ack(_, let bytes):
                do {
                    let (aggregate, envelope) = try Aggregate.read(bytes)
                    seed(link, .ack(link, vouched(aggregate, envelope: envelope, carriedBy: provenPeer[link]?.node ?? operations.peer(of: link))))
                } catch {
                    logger.warning("unreadable ACK on a seeder link", metadata: ["link": "\(link)", "error": "\(error)"])
                    links.close(link, bye: nil, reason: "unreadable ACK")
                }
            case .nack(_, let entries):
                seed(link, .nack(link, entries))
            case .bye(_, let code, let reason):
                seed(link, .bye(link, code, reason: reason))
            case .plan, .manifest, .chunk, .gossip:
                break
            }
        }
    }

    // MARK: Timers

    func arm(_ timer: LedgerTimer, at: Timestamp) {
        runtime.arm(timer, at: at) { timer, token in await self.fire(timer, token: token) }
    }

    func fire(_ timer: LedgerTimer, token: UInt64) {
        guard runtime.fired(timer, token: token) else { return }
        switch timer {
        case .deadline(let version):
            perform(machine.onDeadline(version, now: now()))
        case .rollout(let timer):
            perform(machine.handle(.timer(timer), now: now()))
        case .seeder(let version, let timer):
            guard var seeding = seeders[version] else { return }
            let actions = seeding.machine.handle(.timer(timer), now: now())
            seeders[version] = seeding
            performSeeder(version, actions)
        }
    }
}
