public import BenCore

/// How compiling a received bundle went.
public enum CompileOutcome: Sendable, Hashable {
    case compiled
    case failed(String)
}

extension AgentMachine {
    /// The shell finished compiling. Success swaps the version in and makes it durable before the ack is signed;
    /// failure leaves the old version running and signs a refusal with the reason (DESIGN §3 step 8).
    public mutating func onCompiled(_ version: Version, outcome: CompileOutcome, now: Timestamp) -> [Action] {
        guard var d = deployment, d.version == version, d.phase == .compiling else { return [] }
        // An alarm came while it compiled: what compiled is not swapped in.
        if stopped.contains(version) { return stopCompiled(version) }
        // Two-phase: hold the compiled version and say so, signed; the activation decides when to swap.
        if outcome == .compiled, d.announcement.twoPhase { return prepare(version, now: now) }
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
        // The answer is durable with the swap (one write): asked again later, even after a restart, the node
        // sends these same bytes.
        record.lastAnswer = SignedAnswer(
            version: version, manifest: d.announcement.manifest, status: ack.status, envelope: signed,
            answeredIssue: d.announcement.issuedAt)
        var actions: [Action] = []
        switch outcome {
        case .compiled:
            record.active = ActiveVersion(version: version, manifest: d.announcement.manifest)
            d.stage = .answered(own: signed, refused: nil)
            actions += [.activate(version), .persist(record), .report(.activated(version))]
        case .failed(let reason):
            d.stage = .answered(own: signed, refused: reason)
            actions += [.discardCompiled(version), .persist(record), .report(.refused(version, reason: reason))]
        }
        deployment = d
        return actions + maybeSendAggregate(now: now)
    }

    /// A child sent its aggregate up the ack tree. Relays do not check signatures (the ledger checks every one);
    /// they only gather and pass on.
    public mutating func onAck(_ link: LinkID, aggregate: Aggregate, now: Timestamp) -> [Action] {
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
        // A child's claims about others are its own; only the ledger weighs them. Tamper claims travel only as
        // signed reports.
        d.acks.missingFromChildren[child, default: []].append(contentsOf: aggregate.missing.filter { $0.reason.code != .tamperedRelay })
        d.acks.childReports += aggregate.reports
        var actions = lift(d.relay.onReported(child, acks: aggregate.ackNodes))
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
    mutating func maybeSendAggregate(now: Timestamp) -> [Action] {
        guard let d = deployment, d.own != nil else { return [] }
        if d.acks.hasSentUp { return sendAggregate(now: now, final: false) }
        // Acks go up the tree. A node that finished before any parent reached it (it already held the bundle)
        // waits for its parent, or for the orphan deadline, rather than messaging the ledger directly.
        guard d.ackRoute != .none || d.isOrphaned else { return [] }
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
    mutating func sendAggregate(now: Timestamp, final: Bool) -> [Action] {
        guard var d = deployment else { return [] }
        var acks: [SignedEnvelope] = []
        let ownSent = d.acks.ownSent
        if let own = d.own, !ownSent { acks.append(own) }
        for id in d.acks.received.keys.sorted() where !d.acks.sentAcks.contains(id) {
            acks.append(d.acks.received[id]!)
            d.acks.sentAcks.insert(id)
        }
        let reports = unsentReports(d)
        d.acks.sentReports.formUnion(reports)
        let missing = final ? computeMissing(d) : []
        guard final || !acks.isEmpty || !reports.isEmpty else { return [] }
        d.acks.uplink = .sent(ownIncluded: ownSent || d.own != nil)
        let aggregate = Aggregate(
            fleet: fleet, version: d.version, relay: node, acks: acks, missing: missing, orphaned: d.isOrphaned, reports: reports)
        deployment = d
        var actions: [Action] = []
        let via: String
        if let parent = d.ackParent, let parentNode = d.parents[parent]?.node {
            actions.append(.send(parent, .ack(aggregate)))
            via = "to \(parentNode)"
        } else {
            actions.append(.publishAggregate(aggregate))
            via = "over NATS"
        }
        for former in d.formerAckParents where d.parents[former] != nil {
            actions.append(.send(former, .ack(aggregate)))
        }
        actions.append(.report(.aggregateSent(d.version, acks: acks.count, missing: missing.count, via: via)))
        actions.append(.cancelTimer(.ackDeadline(d.version)))
        return actions
    }

    /// Who below (and including) this node has no ack here yet, with the best reason this node knows.
    func computeMissing(_ d: Deployment) -> [Aggregate.Missing] {
        var out: [Aggregate.Missing] = []
        var named = Set<NodeID>(d.acks.received.keys)
        if d.own != nil { named.insert(node) }
        func add(_ id: NodeID, _ reason: MissingReason) {
            if named.insert(id).inserted { out.append(Aggregate.Missing(node: id, reason: reason)) }
        }
        if d.own == nil {
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
                    for m in d.acks.missingFromChildren[id] ?? [] { add(m.node, m.reason) }
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

    /// Signed tamper reports, this node's and its children's, not yet sent up. They go up even about relays that
    /// acked: they are evidence, not absence.
    func unsentReports(_ d: Deployment) -> [SignedEnvelope] {
        var seen = Set<SignedEnvelope>()
        return (d.reports + d.acks.childReports).filter { seen.insert($0).inserted && !d.acks.sentReports.contains($0) }
    }
}
