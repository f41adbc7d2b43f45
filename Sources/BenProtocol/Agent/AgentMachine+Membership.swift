public import BenCore

extension AgentMachine {
    /// Gossip's membership declared `member` dead (its suspicion ran out unrefuted). A relay gives up on that plan
    /// child at once, reports it unreachable with `reason`, and adopts its children from the subtree it holds,
    /// instead of waiting for the link's tries: a stopped (SIGSTOP) or cut-off child can keep a TCP connection
    /// open, or make every try wait for its connect timeout, while membership notices it within seconds.
    ///
    /// A caller may rely on: a member that is not one of this node's children in the current deployment (or one
    /// already finished, refused or given up on) changes nothing; otherwise the actions are those of a child whose
    /// last try failed, and the aggregate goes up if that child was the last one awaited.
    ///
    /// A child whose chunks are still leaving (one left within `childMovingGrace`) is reading, whatever its pings
    /// say: it is kept, and each relay check looks again (`recheckDeadChildren`).
    public mutating func onMemberDead(_ member: NodeID, reason: String, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        if let sent = d.lastSentTo[member], now - sent < settings.childMovingGrace, d.relay.children[member]?.phase == .streaming {
            d.deadButMoving[member] = reason
            deployment = d
            return [
                .report(.childDeadButMoving(member, reason: reason)),
                .armTimer(.relayCheck(d.version), at: now + settings.relayCheckEvery),
            ]
        }
        let (relayActions, gaveUp) = d.relay.onChildDead(member, reason: reason)
        deployment = d
        var actions = lift(relayActions)
        if gaveUp { actions += maybeSendAggregate(now: now) }
        return actions
    }

    /// At each relay check: a child gossip declared dead while it was still reading is given up on once nothing
    /// has left for it for `childMovingGrace` (it stopped reading too), and forgotten once it is done.
    mutating func recheckDeadChildren(now: Timestamp) -> [Action] {
        guard let d = deployment, !d.deadButMoving.isEmpty else { return [] }
        var actions: [Action] = []
        for (member, reason) in d.deadButMoving.sorted(by: { $0.key < $1.key }) {
            guard deployment!.relay.children[member]?.phase == .streaming else {
                deployment!.deadButMoving[member] = nil
                continue
            }
            guard now - (deployment!.lastSentTo[member] ?? now) >= settings.childMovingGrace else { continue }
            deployment!.deadButMoving[member] = nil
            deployment!.lastSentTo[member] = nil
            actions += onMemberDead(member, reason: reason, now: now)
        }
        return actions
    }

    /// The members this node's gossip should watch (probe besides its view): its plan parents and children in the
    /// current deployment, adopted ones included, sorted. Empty between deployments.
    public var watchList: [NodeID] {
        guard let d = deployment else { return [] }
        var nodes = Set(d.relay.children.keys)
        for parent in d.parents.values where parent.node != Self.ledgerID { nodes.insert(parent.node) }
        return nodes.sorted()
    }

    /// The signed announcement of the version this node accepted last, while it holds it (gossip carries it on,
    /// and its `topology` key authenticates a topology the agent fetches); nil after a restart until it is heard
    /// again.
    public var acceptedAnnouncement: (announcement: Announcement, envelope: [UInt8])? {
        guard let d = deployment, d.version == record.highestAccepted else { return nil }
        return (d.announcement, d.envelope)
    }
}
