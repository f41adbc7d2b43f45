public import BenCore

/// How compiling a received bundle went.
public enum CompileOutcome: Sendable, Hashable {
    case compiled
    case failed(String)
}

extension AgentMachine {
    /// The shell finished compiling. Success swaps the version in and makes it durable before the ack is signed;
    /// failure leaves the old version running and signs a refusal with the reason (DESIGN §3 step 8).
    public mutating func onCompiled(_ version: Version, outcome: CompileOutcome, now: Timestamp) -> [PeerAction] {
        guard var d = deployment, d.version == version, d.phase == .compiling else { return [] }
        let ack: Ack
        switch outcome {
        case .compiled:
            ack = Ack(
                fleet: fleet, version: version, node: node, manifest: d.announcement.manifest, status: .active, reason: "", at: now)
        case .failed(let reason):
            ack = Ack(
                fleet: fleet, version: version, node: node, manifest: d.announcement.manifest, status: .refused, reason: reason,
                at: now)
        }
        let signed = signer.sign(ack)
        d.acks.own = signed
        // The answer is durable with the swap (one write): asked again later, even after a restart, the node
        // sends these same bytes.
        record.lastAnswer = SignedAnswer(
            version: version, manifest: d.announcement.manifest, status: ack.status, envelope: signed, answeredIssue: d.announcement.issuedAt)
        var actions: [PeerAction] = []
        switch outcome {
        case .compiled:
            record.active = ActiveVersion(version: version, manifest: d.announcement.manifest)
            d.phase = .activated
            actions += [.activate(version), .persist(record), .report(.activated(version))]
        case .failed(let reason):
            d.phase = .refused(reason)
            actions += [.discardCompiled(version), .persist(record), .report(.refused(version, reason: reason))]
        }
        deployment = d
        return actions + maybeSendAggregate(now: now)
    }

    /// A child sent its aggregate up the ack tree. Relays do not check signatures (the ledger checks every one);
    /// they only gather and pass on.
    public mutating func onAck(_ link: LinkID, aggregate: Aggregate, now: Timestamp) -> [PeerAction] {
        guard var d = deployment, let child = d.relay.child(on: link) else {
            return [.report(.protocolViolation(link, "ACK on a link that is not from a child"))]
        }
        guard aggregate.fleet == fleet, aggregate.version == d.version else {
            return [.report(.protocolViolation(link, "ACK for \(aggregate.fleet) \(aggregate.version)"))]
        }
        for envelope in aggregate.acks {
            guard let text = envelope.signed["node"]?.stringValue, let from = NodeID(text) else { continue }
            d.acks.received[from] = envelope
            d.acks.sentAcks.remove(from)
        }
        d.acks.reported.insert(child)
        d.acks.missingFromChildren[child, default: []].append(contentsOf: aggregate.missing)
        var actions = d.relay.onReported(child, acks: aggregate.ackNodes)
        deployment = d
        actions += maybeSendAggregate(now: now)
        return actions
    }

    /// The ack children: this node's children in stripe tree 0, including adopted ones.
    func ackChildren(_ d: Deployment) -> [NodeID] {
        d.relay.children.filter { $0.value.subtrees[0] != nil }.keys.sorted()
    }

    /// Sends up as soon as this node's own ack and every ack child's aggregate are in; after the first send,
    /// anything new goes up at once.
    mutating func maybeSendAggregate(now: Timestamp) -> [PeerAction] {
        guard let d = deployment, d.acks.own != nil else { return [] }
        if d.acks.sentUp { return sendAggregate(now: now, final: false) }
        // Acks go up the tree. A node that finished before any parent reached it (it already held the bundle)
        // waits for its parent, or for the orphan deadline, rather than messaging the ledger directly.
        guard d.ackParent != nil || d.orphaned || d.ackParentLost else { return [] }
        let waiting = ackChildren(d).contains { id in
            guard let child = d.relay.children[id] else { return false }
            switch child.phase {
            case .unreachable, .refused: return false
            default: return !d.acks.reported.contains(id)
            }
        }
        return waiting ? [] : sendAggregate(now: now, final: true)
    }

    /// Sends the acks not yet sent (and, on a final send, who is missing and why) to the ack parent, or over
    /// NATS when there is none (orphans, or a parent link that is gone).
    mutating func sendAggregate(now: Timestamp, final: Bool) -> [PeerAction] {
        guard var d = deployment else { return [] }
        var acks: [SignedEnvelope] = []
        if let own = d.acks.own, !d.acks.ownSent {
            acks.append(own)
            d.acks.ownSent = true
        }
        for id in d.acks.received.keys.sorted() where !d.acks.sentAcks.contains(id) {
            acks.append(d.acks.received[id]!)
            d.acks.sentAcks.insert(id)
        }
        let evidence = unsentEvidence(d)
        d.acks.sentEvidence.formUnion(evidence)
        let missing = (final ? computeMissing(d) : []) + evidence
        guard final || !acks.isEmpty || !evidence.isEmpty else { return [] }
        d.acks.sentUp = true
        let aggregate = Aggregate(
            fleet: fleet, version: d.version, relay: node, acks: acks, missing: missing, orphaned: d.orphaned)
        deployment = d
        var actions: [PeerAction] = []
        let via: String
        if let parent = d.ackParent, let parentNode = d.parents[parent]?.node {
            actions.append(.send(parent, .ack(aggregate)))
            via = "to \(parentNode)"
        } else {
            actions.append(.publishAggregate(aggregate))
            via = "over NATS"
        }
        actions.append(.report(.aggregateSent(d.version, acks: acks.count, missing: missing.count, via: via)))
        actions.append(.cancelTimer(.ackDeadline(d.version)))
        return actions
    }

    /// Who below (and including) this node has no ack here yet, with the best reason this node knows.
    func computeMissing(_ d: Deployment) -> [Aggregate.Missing] {
        var out: [Aggregate.Missing] = []
        var named = Set<NodeID>(d.acks.received.keys)
        if d.acks.own != nil { named.insert(node) }
        func add(_ id: NodeID, _ reason: MissingReason) {
            if named.insert(id).inserted { out.append(Aggregate.Missing(node: id, reason: reason)) }
        }
        if d.acks.own == nil {
            let held = d.chunkKeys.map { "\(d.have.cardinality)/\($0.count) chunks" } ?? "no manifest yet"
            add(node, MissingReason(.timeout, "\(d.phase) with \(held)"))
        }
        for id in ackChildren(d) {
            guard let child = d.relay.children[id] else { continue }
            switch child.phase {
            case .unreachable(let reason):
                add(id, MissingReason(.unreachable, reason))
            case .refused(let reason):
                add(id, MissingReason(.refused, reason))
            default:
                if d.acks.reported.contains(id) {
                    for m in d.acks.missingFromChildren[id] ?? [] where m.reason.code != .tamperedRelay { add(m.node, m.reason) }
                } else {
                    add(id, MissingReason(.timeout, "no aggregate by the deadline"))
                    if let subtree = child.subtrees[0] {
                        for below in subtree.nodes.dropFirst() {
                            add(below.id, MissingReason(.timeout, "its relay \(id) sent no aggregate"))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Reports about relays that served tampered bytes, this node's and its children's, not yet sent up. They
    /// go up even about relays that acked: they are evidence, not absence.
    func unsentEvidence(_ d: Deployment) -> [Aggregate.Missing] {
        var evidence = d.reports
        for id in d.acks.missingFromChildren.keys.sorted() {
            evidence += d.acks.missingFromChildren[id]!.filter { $0.reason.code == .tamperedRelay }
        }
        var seen = Set<Aggregate.Missing>()
        return evidence.filter { seen.insert($0).inserted && !d.acks.sentEvidence.contains($0) }
    }

    /// A timer armed earlier fired.
    public mutating func onTimer(_ timer: TimerID, now: Timestamp) -> [PeerAction] {
        guard var d = deployment else { return [] }
        switch timer {
        case .orphan(let v):
            guard v == d.version, !d.contacted else { return [] }
            d.orphaned = true
            deployment = d
            guard d.phase == .receiving else {
                // Done already, and no parent came to take the ack: send it directly.
                return [.report(.orphaned(v))] + maybeSendAggregate(now: now)
            }
            var wanted = Set(missingAll().map(UInt32.init))
            if d.chunkKeys == nil { wanted.insert(NackEntry.manifestIndex) }
            // Holding the whole bundle already, it still asks the ledger: only a target may swap it in.
            if wanted.isEmpty { return [.report(.orphaned(v))] + confirmTarget() }
            return [.report(.orphaned(v))] + fetch(wanted, now: now)
        case .ackDeadline(let v):
            guard v == d.version, !d.acks.sentUp else { return [] }
            return sendAggregate(now: now, final: true)
        case .linkRetry(let v, let child):
            guard v == d.version else { return [] }
            let actions = d.relay.onRetry(child)
            deployment = d
            return actions
        case .progressCheck(let v):
            guard v == d.version, d.phase == .receiving else { return [] }
            var actions: [PeerAction] = [.armTimer(.progressCheck(v), at: now + settings.progressCheckEvery)]
            guard d.contacted || d.orphaned else { return actions }
            guard let keys = d.chunkKeys else {
                return actions + fetch([NackEntry.manifestIndex], now: now)
            }
            var stalled = Set<UInt32>()
            for s in 0..<d.stripeCount {
                let held = (0..<keys.count).reduce(0) { $0 + ($1 % d.stripeCount == s && d.have.contains($1) ? 1 : 0) }
                let missing = d.missing(inStripe: s)
                if !missing.isEmpty && d.progressMarks[s] == held {
                    stalled.formUnion(missing.map(UInt32.init))
                    actions.append(.report(.stripeStalled(stripe: s, missing: missing.count)))
                }
                d.progressMarks[s] = held
            }
            // A pull that is itself stuck on stalled chunks is dropped, so they are asked of the next holder.
            for (link, pull) in d.pulls.sorted(by: { $0.key < $1.key }) where !pull.wanted.isDisjoint(with: stalled) {
                d.pulls[link] = nil
                if pull.source.id != Self.ledgerID { d.exhaustedSources.insert(pull.source.id) }
                actions.append(.close(link, .done, reason: "no progress"))
            }
            deployment = d
            return actions + fetch(stalled, now: now)
        case .relayCheck(let v):
            guard v == d.version else { return [] }
            var actions = d.relay.handOffBacklogs(threshold: settings.handOffBacklog)
            // Children come with the PLAN, after the announcement: keep checking while chunks still arrive or a
            // child still has a backlog here, and never past the deadline (a dead child would keep it forever).
            let next = now + settings.relayCheckEvery
            if (d.phase == .receiving || d.relay.hasBacklog(atLeast: settings.handOffBacklog)),
                next < d.announcement.deadline
            {
                actions.append(.armTimer(.relayCheck(v), at: next))
            }
            deployment = d
            return actions
        case .deploymentDeadline(let v):
            guard v == d.version else { return [] }
            // Links kept open only for acks still to come close; late acks then go up over NATS.
            let actions = d.relay.closeLingering()
            deployment = d
            return actions
        }
    }
}
