public import BenCore

extension AgentMachine {
    /// A timer armed earlier fired.
    public mutating func onTimer(_ timer: Timer, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        switch timer {
        case .orphan(let v):
            guard v == d.version, !d.isContacted else { return [] }
            if case .waiting = d.contact { d.contact = .orphan(since: now, confirmed: false) }
            deployment = d
            guard d.phase == .receiving else {
                // Done already, and no parent came to take the ack: send it directly.
                return [.report(.orphaned(v))] + maybeSendAggregate(now: now)
            }
            var wanted = Set(missingAll().map(UInt32.init))
            if d.chunkKeys == nil { wanted.insert(NackEntry.manifestIndex) }
            // Holding the whole bundle already, it still asks the ledger: only a target may swap it in.
            if wanted.isEmpty { return [.report(.orphaned(v))] + confirmTarget(now: now) }
            return [.report(.orphaned(v))] + fetch(wanted, now: now)
        case .ackDeadline(let v):
            guard v == d.version, !d.acks.hasSentUp else { return [] }
            return sendAggregate(now: now, final: true)
        case .linkRetry(let v, let child):
            guard v == d.version else { return [] }
            let actions = lift(d.relay.onRetry(child))
            deployment = d
            return actions
        case .progressCheck(let v):
            guard v == d.version, d.phase == .receiving else { return [] }
            let actions: [Action] = [.armTimer(.progressCheck(v), at: now + settings.progressCheckEvery)]
            // A check that fires well after it was due means this node was not running (a starved machine): what
            // its links sent meanwhile may still wait unread in its sockets, so their silence is not judged this
            // time. Never twice in a row, so a node that is always late still finds a parent that really stopped.
            let lateness = d.lastProgressCheck.map { max(.zero, now - $0 - settings.progressCheckEvery) } ?? .zero
            let late = lateness > settings.progressCheckEvery
            deployment!.starvation = max(lateness, d.starvation - settings.progressCheckEvery)
            deployment!.lastProgressCheck = now
            if late && !d.skippedLateCheck {
                deployment!.skippedLateCheck = true
                return actions
            }
            deployment!.skippedLateCheck = false
            return actions + checkProgress(now: now)
        case .relayCheck(let v):
            guard v == d.version else { return [] }
            let (relayActions, next) = d.relay.relayCheck(
                threshold: settings.handOffBacklog, interval: settings.relayCheckEvery, chunkBytes: d.chunkBytes,
                receiving: d.phase == .receiving, now: now, deadline: d.announcement.deadline)
            deployment = d
            let rechecks = recheckDeadChildren(now: now)
            // A child kept against gossip's word is looked at again until it is given up on or done.
            let again = next ?? (deployment?.deadButMoving.isEmpty == false ? now + settings.relayCheckEvery : nil)
            return lift(relayActions) + rechecks + (again.map { [.armTimer(.relayCheck(v), at: $0)] } ?? [])
        case .barrier(let v):
            return onBarrier(v, now: now)
        case .deploymentDeadline(let v):
            guard v == d.version else { return [] }
            // Links kept open only for acks still to come close; late acks then go up over NATS.
            let actions = lift(d.relay.closeLingering())
            deployment = d
            return actions
        }
    }
}
