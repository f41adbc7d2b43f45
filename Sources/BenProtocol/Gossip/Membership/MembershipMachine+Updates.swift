import BenCore

extension MembershipMachine {
    /// The message an update list rides on, for the datagram budget.
    enum Carrier {
        case ping, ack, nack
        case pingRequest(NodeID)
    }

    // MARK: Merging what others say

    /// An authenticated message from `sender` is its own alive claim at `incarnation`.
    mutating func heard(from sender: NodeID, incarnation claimed: Incarnation, now: Timestamp, _ actions: inout [Action]) {
        guard records[sender] != nil else { return }
        records[sender]!.lastHeard = now
        merge(MemberUpdate(node: sender, incarnation: claimed, status: .alive), now: now, &actions)
    }

    /// SWIM's precedence rules, with Lifeguard's suspicion confirmations:
    ///
    /// - alive(i) overrides alive(j), suspect(j) and dead(j) when i > j;
    /// - suspect(i) overrides alive(j) when i ≥ j, and suspect(j) when i > j; a suspicion of the same incarnation by
    ///   a new suspecter is a confirmation and shortens the timeout;
    /// - dead(i) overrides alive(j) and suspect(j) when i ≥ j.
    ///
    /// An update about this node is answered, not stored: suspect or dead at i ≥ its incarnation is refuted with
    /// alive(i + 1). Updates about nodes not on the roster are dropped. What changes is queued to be piggybacked.
    mutating func merge(_ update: MemberUpdate, now: Timestamp, _ actions: inout [Action]) {
        if update.node == node {
            refute(update, now: now, &actions)
            return
        }
        guard roster.contains(update.node) else { return }
        let i = update.incarnation
        guard let record = records[update.node] else {
            guard settings.retainEveryMember else {
                relay(update, now: now)
                return
            }
            // The ledger's view: a record of every member ever heard of.
            let state: MemberState
            switch update.status {
            case .alive: state = .alive(i)
            case .suspect(let by):
                state = .suspect(Suspicion(incarnation: i, since: now, by: [by], deadline: now + suspicionTimeout(confirmations: 1)))
            case .dead(let by): state = .dead(Death(incarnation: i, by: by, reconnectAt: now + settings.reconnectInterval))
            }
            records[update.node] = Member(state: state, probed: false, lastHeard: nil, changedAt: now)
            becameState(update.node, announce: state.status != .alive, now: now, &actions)
            return
        }
        switch (update.status, record.state) {
        case (.alive, .alive(let j)):
            if i > j { set(update.node, .alive(i), announce: false, now: now, &actions) }
        case (.alive, .suspect(let s)):
            if i > s.incarnation { set(update.node, .alive(i), announce: true, now: now, &actions) }
        case (.alive, .dead(let d)):
            if i > d.incarnation { set(update.node, .alive(i), announce: true, now: now, &actions) }
        case (.suspect(let by), .alive(let j)):
            if i >= j {
                let s = Suspicion(incarnation: i, since: now, by: [by], deadline: now + suspicionTimeout(confirmations: 1))
                set(update.node, .suspect(s), announce: true, now: now, &actions)
            }
        case (.suspect(let by), .suspect(var s)):
            if i > s.incarnation {
                s = Suspicion(incarnation: i, since: now, by: [by], deadline: now + suspicionTimeout(confirmations: 1))
                set(update.node, .suspect(s), announce: false, now: now, &actions)
            } else if i == s.incarnation, !s.by.contains(by), s.by.count < settings.independentSuspicions {
                s.by.append(by)
                s.deadline = min(s.deadline, s.since + suspicionTimeout(confirmations: s.by.count))
                set(update.node, .suspect(s), announce: false, now: now, &actions)
            }
        case (.suspect, .dead):
            break
        case (.dead(let by), .alive(let j)):
            if i >= j {
                set(
                    update.node, .dead(Death(incarnation: i, by: by, reconnectAt: now + settings.reconnectInterval)), announce: true,
                    now: now, &actions)
            }
        case (.dead(let by), .suspect(let s)):
            if i >= s.incarnation {
                set(
                    update.node, .dead(Death(incarnation: i, by: by, reconnectAt: now + settings.reconnectInterval)), announce: true,
                    now: now, &actions)
            }
        case (.dead, .dead):
            break
        }
    }

    /// An update about a member this node does not probe: it is passed on, not adopted (this node has no opinion of
    /// members it does not monitor, so a stale rumour can never leave it holding a live member dead). What was passed
    /// on is remembered for `retention`, to pass each update on once: a newer incarnation, a worse status at the same
    /// incarnation, or (for a suspicion) a new suspecter, up to K.
    mutating func relay(_ update: MemberUpdate, now: Timestamp) {
        let rank: Int
        var by: NodeID?
        switch update.status {
        case .alive: rank = 0
        case .suspect(let s):
            rank = 1
            by = s
        case .dead: rank = 2
        }
        if let seen = relayed[update.node] {
            let newer = (update.incarnation, rank) > (seen.incarnation, seen.rank)
            let confirmation =
                update.incarnation == seen.incarnation && rank == 1 && seen.rank == 1 && by.map { !seen.suspecters.contains($0) } == true
                && seen.suspecters.count < settings.independentSuspicions
            guard newer || confirmation else { return }
        }
        var entry = relayed[update.node] ?? Relayed(incarnation: update.incarnation, rank: rank, suspecters: [], at: now)
        if (update.incarnation, rank) != (entry.incarnation, entry.rank) {
            entry = Relayed(incarnation: update.incarnation, rank: rank, suspecters: [], at: now)
        }
        if let by { entry.suspecters.append(by) }
        entry.at = now
        relayed[update.node] = entry
        enqueue(update)
    }

    /// Someone says this node is suspect or dead: raise the incarnation past the claim and say so (and take the
    /// suspicion as a sign of this node's own poor health, Lifeguard). A claim that this node is alive at a higher
    /// incarnation than it remembers (it restarted) is adopted, so its next refutation outbids it.
    mutating func refute(_ update: MemberUpdate, now: Timestamp, _ actions: inout [Action]) {
        switch update.status {
        case .alive:
            if update.incarnation > incarnation { incarnation = update.incarnation }
        case .suspect, .dead:
            guard update.incarnation >= incarnation else { return }
            incarnation = update.incarnation &+ 1
            adjustLocalHealth(1)
            enqueue(MemberUpdate(node: node, incarnation: incarnation, status: .alive))
            actions.append(.memberChanged(MemberChange(node: node, status: .alive, incarnation: incarnation)))
        }
    }

    mutating func set(_ member: NodeID, _ state: MemberState, announce: Bool, now: Timestamp, _ actions: inout [Action]) {
        let before = records[member]!.state
        records[member]!.state = state
        records[member]!.changedAt = now
        if case .suspect = before, state.status != .suspect { actions.append(.cancelTimer(.suspicion(member))) }
        becameState(member, announce: announce || before.status != state.status, now: now, &actions)
    }

    /// Queues the member's new state for dissemination, arms its suspicion timer, and reports a change of status.
    mutating func becameState(_ member: NodeID, announce: Bool, now: Timestamp, _ actions: inout [Action]) {
        let state = records[member]!.state
        enqueue(update(of: member, state))
        if case .suspect(let s) = state { actions.append(.armTimer(.suspicion(member), at: s.deadline)) }
        if announce { actions.append(.memberChanged(MemberChange(node: member, status: state.status, incarnation: state.incarnation))) }
    }

    func update(of member: NodeID, _ state: MemberState) -> MemberUpdate {
        switch state {
        case .alive(let i): MemberUpdate(node: member, incarnation: i, status: .alive)
        case .suspect(let s): MemberUpdate(node: member, incarnation: s.incarnation, status: .suspect(by: s.by.last ?? node))
        case .dead(let d): MemberUpdate(node: member, incarnation: d.incarnation, status: .dead(by: d.by))
        }
    }

    /// Queues an update for piggybacking. Past `maxPendingUpdates` the most transmitted (then oldest) update is
    /// dropped, so a burst after a partition drains in bounded time and the freshest news goes first.
    mutating func enqueue(_ update: MemberUpdate) {
        rumours.push(update, cap: settings.maxPendingUpdates)
    }

    // MARK: Piggybacking

    /// The updates to put on a message to `recipient`: first what this node holds against the recipient itself
    /// (so a suspect or dead member learns it at once and refutes), then queued updates in `RumourQueue` order, up to
    /// `maxUpdatesPerMessage` and the datagram budget. Each update sent counts one transmission; one that reached the
    /// retransmit limit leaves the queue.
    mutating func piggyback(for recipient: NodeID, kind: Carrier) -> [MemberUpdate] {
        let bare: MembershipMessage
        switch kind {
        case .ping: bare = .ping(sequence: 0, incarnation: 0, updates: [])
        case .ack: bare = .ack(sequence: 0, incarnation: 0, updates: [])
        case .nack: bare = .nack(sequence: 0, incarnation: 0, updates: [])
        case .pingRequest(let target): bare = .pingRequest(sequence: 0, incarnation: 0, target: target, updates: [])
        }
        var budget = settings.maxDatagramBytes - GossipWire.size(of: GossipDatagram(fleet: fleet, sender: node, message: .membership(bare)))
        var out: [MemberUpdate] = []
        if let record = records[recipient], record.state.status != .alive {
            let own = update(of: recipient, record.state)
            budget -= GossipWire.size(of: own)
            out.append(own)
        }
        guard !rumours.isEmpty, out.count < settings.maxUpdatesPerMessage else { return out }
        let first = out.first?.node
        var remaining = budget
        out += rumours.take(max: settings.maxUpdatesPerMessage - out.count, limit: retransmitLimit) { update in
            let size = GossipWire.size(of: update)
            guard update.node != first, size <= remaining else { return false }
            remaining -= size
            return true
        }
        return out
    }
}
