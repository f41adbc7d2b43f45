public import BenCore

/// Two-phase activation (DESIGN §9, issue 17): a version announced with `"activation": "barrier"` is received,
/// verified and compiled as any other, then held instead of swapped in. The node signs a `prepared` ack (it goes up
/// the ack tree like any ack) and keeps serving its old version until the ledger's signed activation arrives; it then
/// swaps when its own clock reads the activation's barrier and sends its signed `active` ack over NATS (the tree's
/// links are closed by then). A node that never receives the activation keeps its old version, and the ledger names
/// it (`prepared: …`).
extension AgentMachine {
    /// Compiling a two-phase version finished well: hold it, sign `prepared`, send it up.
    mutating func prepare(_ version: Version, now: Timestamp) -> [Action] {
        guard var d = deployment, d.version == version else { return [] }
        if stopped.contains(version) { return stopCompiled(version) }
        let ack = Ack(fleet: fleet, version: version, node: node, manifest: d.announcement.manifest, status: .prepared, reason: "", at: now)
        d.stage = .prepared(own: signer.sign(ack))
        deployment = d
        return [.report(.prepared(version))] + maybeSendAggregate(now: now)
    }

    /// The ledger's activation arrived. A node that holds the version prepared takes it (its signature, fleet,
    /// epoch and manifest checked) and swaps at the barrier, or at once if the barrier has passed by its clock. A
    /// node that already swapped ignores it (its active ack stands; the ledger asks for it by name if it was lost);
    /// any other node logs why it does not act on it. Nothing here is ever signed in reply: an activation a node
    /// cannot take leaves it on its old version, and the ledger names it.
    public mutating func onActivation(_ incoming: IncomingActivation, now: Timestamp) -> [Action] {
        let a = incoming.document
        if let reason = refusal(of: incoming.signature, fleet: a.fleet, epoch: a.epoch) {
            return [.report(.activationIgnored(a.version, reason: reason))]
        }
        if stopped.contains(a.version) {
            return [.report(.activationIgnored(a.version, reason: "an alarm from the ledger stopped \(a.version)"))]
        }
        guard var d = deployment, d.version == a.version else {
            return [.report(.activationIgnored(a.version, reason: "this node has not prepared \(a.version)"))]
        }
        guard d.announcement.manifest == a.manifest else {
            return [.report(.activationIgnored(a.version, reason: "it names manifest \(a.manifest.short), not the one this node prepared"))]
        }
        switch d.stage {
        case .prepared:
            d.activation = a
            deployment = d
            let accepted: [Action] = [.report(.activationAccepted(a.version, barrier: a.barrier))]
            if a.barrier <= now { return accepted + onBarrier(a.version, now: now) }
            return accepted + [.armTimer(.barrier(a.version), at: a.barrier)]
        case .answered:
            return []
        case .stopped:
            return [.report(.activationIgnored(a.version, reason: "an alarm from the ledger stopped \(a.version)"))]
        case .receiving, .compiling, .notTargeted:
            return [.report(.activationIgnored(a.version, reason: "this node has not prepared \(a.version) (\(d.phase))"))]
        }
    }

    /// The barrier: swap the prepared version in, make it durable with the signed active ack (one write, as for a
    /// one-phase swap), and send the ack to the ledger over NATS.
    mutating func onBarrier(_ version: Version, now: Timestamp) -> [Action] {
        guard var d = deployment, d.version == version, case .prepared = d.stage, let activation = d.activation else { return [] }
        let manifest = d.announcement.manifest
        let signed = signer.sign(Ack(fleet: fleet, version: version, node: node, manifest: manifest, status: .active, reason: "", at: now))
        record.lastAnswer = SignedAnswer(
            version: version, manifest: manifest, status: .active, envelope: signed, answeredIssue: d.announcement.issuedAt)
        record.active = ActiveVersion(version: version, manifest: manifest)
        d.stage = .answered(own: signed, refused: nil)
        deployment = d
        let aggregate = Aggregate(fleet: fleet, version: version, relay: node, acks: [signed], missing: [])
        return [
            .activate(version), .report(.swappedAtBarrier(version, barrier: activation.barrier, late: now - activation.barrier)),
            .persist(record),
            .report(.activated(version)), .publishAggregate(aggregate),
            .report(.aggregateSent(version, acks: 1, missing: 0, via: "over NATS")),
        ]
    }

    /// Asked by name for its answer to a version it holds prepared: the same signed `prepared` ack, over NATS.
    func preparedAnswer(_ version: Version) -> [Action]? {
        guard let d = deployment, d.version == version, case .prepared(let own) = d.stage else { return nil }
        let aggregate = Aggregate(fleet: fleet, version: version, relay: node, acks: [own], missing: [])
        return [.publishAggregate(aggregate), .report(.answeredAgain(version, status: .prepared, via: "over NATS, asked by the ledger"))]
    }
}
