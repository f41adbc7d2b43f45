public import BenCore

extension MembershipMachine {
    // MARK: Inputs

    /// Arms the first probe, a seeded fraction of a period from now.
    ///
    /// A caller may rely on: exactly one `.armTimer(.probe, …)`, nothing sent.
    public mutating func onStart(now: Timestamp) -> [Action] {
        let offset = Duration.milliseconds(Int64(random.below(Int(max(1, settings.probeInterval.milliseconds)))))
        return [.armTimer(.probe, at: now + offset)]
    }

    /// A membership datagram arrived.
    ///
    /// A caller may rely on: a refused datagram, or one from a node not on the roster or claiming to be this node,
    /// yields exactly one `.refused` and changes nothing. Otherwise the sender's own incarnation and the piggybacked
    /// updates are merged first (refuting any suspicion of this node), then the message is answered: a `ping` with an
    /// `ack`, a `pingRequest` with a relayed `ping` (and later a forwarded `ack` or a `nack`).
    public mutating func onMessage(_ message: MembershipMessage, from sender: NodeID, authentication: GossipAuthentication, now: Timestamp)
        -> [Action]
    {
        if case .refused(let reason) = authentication { return [.refused(from: sender, reason: reason)] }
        guard sender != node else { return [.refused(from: sender, reason: "a datagram claiming to come from this node")] }
        guard roster.contains(sender) else { return [.refused(from: sender, reason: "\(sender) is not in the topology")] }
        var actions: [Action] = []
        heard(from: sender, incarnation: message.incarnation, now: now, &actions)
        for update in message.updates { merge(update, now: now, &actions) }
        switch message {
        case .ping(let sequence, _, _):
            actions.append(
                .send(to: sender, .ack(sequence: sequence, incarnation: incarnation, updates: piggyback(for: sender, kind: .ack))))
        case .pingRequest(let sequence, _, let target, _):
            guard target != node, target != sender, roster.contains(target) else { break }
            self.sequence &+= 1
            relays[self.sequence] = Relay(requester: sender, sequence: sequence)
            actions.append(
                .send(to: target, .ping(sequence: self.sequence, incarnation: incarnation, updates: piggyback(for: target, kind: .ping))))
            let after = Duration.milliseconds(Int64(Double(settings.indirectTimeout.milliseconds) * settings.nackAfter))
            actions.append(.armTimer(.relayTimeout(self.sequence), at: now + after))
        case .ack(let sequence, _, _):
            if let probe = currentProbe, probe.sequence == sequence {
                actions += probeSucceeded(probe)
            } else if let relay = relays.removeValue(forKey: sequence) {
                actions.append(.cancelTimer(.relayTimeout(sequence)))
                actions.append(
                    .send(
                        to: relay.requester,
                        .ack(sequence: relay.sequence, incarnation: incarnation, updates: piggyback(for: relay.requester, kind: .ack))))
            }
        case .nack(let sequence, _, _):
            if case .indirect(var probe) = phase, probe.sequence == sequence {
                probe.nacks += 1
                phase = .indirect(probe)
            }
        }
        return actions
    }

    /// A timer fired. Stale timers (a probe already finished, a suspicion already refuted) do nothing.
    public mutating func onTimer(_ timer: Timer, now: Timestamp) -> [Action] {
        switch timer {
        case .probe: onProbeTick(now: now)
        case .probeTimeout(let sequence): onProbeTimeout(sequence, now: now)
        case .indirectTimeout(let sequence): onIndirectTimeout(sequence, now: now)
        case .relayTimeout(let sequence): onRelayTimeout(sequence)
        case .suspicion(let member): onSuspicionTimeout(member, now: now)
        }
    }

    /// Replaces the watched members (probed besides the view). New ones are assumed alive at incarnation 0 until
    /// they say otherwise; ones no longer watched (and not in the view) become ordinary records that expire.
    public mutating func onWatch(_ nodes: [NodeID], now: Timestamp) -> [Action] {
        let wanted = Array(Set(nodes.filter { $0 != node && roster.contains($0) })).sorted()
        for old in watched where !wanted.contains(old) && !view.contains(old) {
            records[old]?.probed = false
            records[old]?.changedAt = now
        }
        for member in wanted {
            if records[member] == nil {
                records[member] = Member(state: .alive(0), probed: true, lastHeard: nil, changedAt: now)
            } else {
                records[member]!.probed = true
            }
        }
        watched = wanted
        probeOrder = []
        probeCursor = 0
        return []
    }

    // MARK: The probe cycle

    var currentProbe: Probe? {
        switch phase {
        case .idle: nil
        case .direct(let p), .indirect(let p): p
        }
    }

    mutating func onProbeTick(now: Timestamp) -> [Action] {
        // The indirect probes may still have time: their timeout was armed after this tick was (late, on a starved
        // node, or stretched by local health that rose meanwhile). Failing the probe now would suspect the target
        // before the helpers could answer, and charge this node for nacks not yet due. Like memberlist's ticker,
        // which skips ticks while a probe runs, the next probe waits for this one to end.
        if case .indirect(let probe) = phase, let end = probe.indirectDeadline, now < end {
            return [.armTimer(.probe, at: end)]
        }
        var actions: [Action] = []
        if let unfinished = currentProbe { actions += probeFailed(unfinished, now: now) }
        expireRecords(now: now)
        actions.append(.armTimer(.probe, at: now + scaled(settings.probeInterval)))
        if let target = nextProbeTarget() {
            sequence &+= 1
            phase = .direct(Probe(target: target, sequence: sequence))
            actions.append(
                .send(to: target, .ping(sequence: sequence, incarnation: incarnation, updates: piggyback(for: target, kind: .ping))))
            actions.append(.armTimer(.probeTimeout(sequence), at: now + scaled(settings.pingTimeout)))
        }
        if let suspect = nextReminder(now: now) {
            sequence &+= 1
            actions.append(
                .send(to: suspect, .ping(sequence: sequence, incarnation: incarnation, updates: piggyback(for: suspect, kind: .ping))))
        }
        if let dead = nextReconnect(now: now) {
            // A reconnect probe: no timeout, no suspicion, no effect on local health. If the member is back, the
            // ping tells it it was declared dead, and its ack carries its refutation.
            sequence &+= 1
            actions.append(.send(to: dead, .ping(sequence: sequence, incarnation: incarnation, updates: piggyback(for: dead, kind: .ping))))
        }
        return actions
    }

    mutating func onProbeTimeout(_ sequence: UInt32, now: Timestamp) -> [Action] {
        guard case .direct(var probe) = phase, probe.sequence == sequence else { return [] }
        var candidates = records.keys.filter { id in
            id != probe.target && records[id]!.probed && { if case .alive = records[id]!.state { true } else { false } }()
        }.sorted()
        random.shuffle(&candidates)
        let helpers = candidates.prefix(settings.indirectProbes)
        probe.helpers = helpers.count
        let deadline = now + scaled(settings.indirectTimeout)
        probe.indirectDeadline = deadline
        phase = .indirect(probe)
        var actions: [Action] = []
        for helper in helpers {
            actions.append(
                .send(
                    to: helper,
                    .pingRequest(
                        sequence: sequence, incarnation: incarnation, target: probe.target,
                        updates: piggyback(for: helper, kind: .pingRequest(probe.target)))))
        }
        actions.append(.armTimer(.indirectTimeout(sequence), at: deadline))
        return actions
    }

    mutating func onIndirectTimeout(_ sequence: UInt32, now: Timestamp) -> [Action] {
        guard case .indirect(let probe) = phase, probe.sequence == sequence else { return [] }
        return probeFailed(probe, now: now)
    }

    mutating func onRelayTimeout(_ sequence: UInt32) -> [Action] {
        guard let relay = relays.removeValue(forKey: sequence) else { return [] }
        return [
            .send(
                to: relay.requester,
                .nack(sequence: relay.sequence, incarnation: incarnation, updates: piggyback(for: relay.requester, kind: .nack)))
        ]
    }

    mutating func onSuspicionTimeout(_ member: NodeID, now: Timestamp) -> [Action] {
        guard let record = records[member], case .suspect(let suspicion) = record.state else { return [] }
        guard now >= suspicion.deadline else { return [.armTimer(.suspicion(member), at: suspicion.deadline)] }
        var actions: [Action] = []
        merge(MemberUpdate(node: member, incarnation: suspicion.incarnation, status: .dead(by: node)), now: now, &actions)
        return actions
    }

    mutating func probeSucceeded(_ probe: Probe) -> [Action] {
        phase = .idle
        adjustLocalHealth(-1)
        return [.cancelTimer(.probeTimeout(probe.sequence)), .cancelTimer(.indirectTimeout(probe.sequence))]
    }

    /// No ack by the end of the indirect probe: raise local health (by the nacks that did not come when helpers
    /// were asked, memberlist's rule, else by one), suspect the target, and tell it so at once.
    ///
    /// A target some other node already suspects is suspected all the same: this node's failed probe is an
    /// independent confirmation (memberlist's `suspectNode` confirms with its own name), which shortens the timeout
    /// and is gossiped under this node's name. Taking no part there left every monitor repeating the first
    /// suspecter's name, so no confirmation was ever counted and a dead member took the full ceiling to die.
    mutating func probeFailed(_ probe: Probe, now: Timestamp) -> [Action] {
        phase = .idle
        adjustLocalHealth(probe.helpers > 0 ? probe.helpers - probe.nacks : 1)
        var actions: [Action] = [.cancelTimer(.probeTimeout(probe.sequence)), .cancelTimer(.indirectTimeout(probe.sequence))]
        guard let record = records[probe.target], record.state.status != .dead else { return actions }
        let wasSuspect = record.state.status == .suspect
        merge(MemberUpdate(node: probe.target, incarnation: record.state.incarnation, status: .suspect(by: node)), now: now, &actions)
        if !wasSuspect, case .suspect(var s) = records[probe.target]!.state {
            s.remindAt = now + scaled(settings.probeInterval) * 2
            records[probe.target]!.state = .suspect(s)
        }
        sequence &+= 1
        actions.append(
            .send(to: probe.target, .ping(sequence: sequence, incarnation: incarnation, updates: piggyback(for: probe.target, kind: .ping)))
        )
        return actions
    }

    mutating func adjustLocalHealth(_ delta: Int) {
        localHealth = min(settings.maxLocalHealth, max(0, localHealth + delta))
    }

    /// The next member to probe: round robin over the probed members that are not dead, reshuffled (seeded) every
    /// round, so each is probed once per round and in a different order each time (SWIM §4.3).
    mutating func nextProbeTarget() -> NodeID? {
        for _ in 0..<2 {
            while probeCursor < probeOrder.count {
                let candidate = probeOrder[probeCursor]
                probeCursor += 1
                if let r = records[candidate], r.probed, r.state.status != .dead { return candidate }
            }
            var order = records.keys.filter { records[$0]!.probed && records[$0]!.state.status != .dead }.sorted()
            guard !order.isEmpty else { return nil }
            random.shuffle(&order)
            probeOrder = order
            probeCursor = 0
        }
        return nil
    }

    /// A probed suspect due a reminder of its suspicion, if any (the earliest first); the next is due two probe
    /// periods later.
    mutating func nextReminder(now: Timestamp) -> NodeID? {
        var best: (NodeID, Timestamp)?
        let never = Timestamp(millisecondsSinceEpoch: .min)
        for (id, record) in records where record.probed {
            guard case .suspect(let s) = record.state, (s.remindAt ?? never) <= now else { continue }
            if best == nil || (s.remindAt ?? never, id) < (best!.1, best!.0) { best = (id, s.remindAt ?? never) }
        }
        guard let (id, _) = best, case .suspect(var s) = records[id]!.state else { return nil }
        s.remindAt = now + scaled(settings.probeInterval) * 2
        records[id]!.state = .suspect(s)
        return id
    }

    /// A probed member declared dead whose reconnect time has come, if any (the earliest id first).
    mutating func nextReconnect(now: Timestamp) -> NodeID? {
        var best: (NodeID, Timestamp)?
        for (id, record) in records where record.probed {
            guard case .dead(let death) = record.state, death.reconnectAt <= now else { continue }
            if best == nil || (death.reconnectAt, id) < (best!.1, best!.0) { best = (id, death.reconnectAt) }
        }
        guard let (id, _) = best, case .dead(var death) = records[id]!.state else { return nil }
        death.reconnectAt = now + settings.reconnectInterval
        records[id]!.state = .dead(death)
        return id
    }

    /// Forgets what it passed on, and records of members it no longer probes, once they are old news.
    mutating func expireRecords(now: Timestamp) {
        if !relayed.isEmpty && now >= nextSweep {
            // A sweep every quarter of the retention is enough, and keeps this off the per-probe path.
            nextSweep = now + settings.retention / 4
            var old: [NodeID] = []
            for (id, r) in relayed where r.at + settings.retention <= now && !rumours.contains(id) { old.append(id) }
            for id in old { relayed[id] = nil }
        }
        guard !settings.retainEveryMember, records.count > view.count + watched.count else { return }
        let stale = records.filter { id, r in
            guard !r.probed, !rumours.contains(id), r.changedAt + settings.retention <= now else { return false }
            if case .suspect = r.state { return false }
            return true
        }.keys
        for id in stale { records[id] = nil }
    }
}
