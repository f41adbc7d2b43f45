public import BenCore

/// "Stop version V" (an aborted rollout): a node that holds V compiled and not swapped in drops it, and takes no
/// activation of V from then on, so a prepared node that heard the activation but not the abort's end cannot swap
/// at the barrier. The version a node runs is never touched: going back is a rollback, a new version.
extension AgentMachine {
    /// A caller may rely on: an alarm without a trusted signature, for another fleet or under an older epoch changes
    /// nothing (it is reported); the same alarm twice (NATS and gossip) acts once and reports nothing the second
    /// time; otherwise V is stopped, and if V was prepared (or compiling) its compiled copy is discarded and any
    /// barrier timer cancelled.
    public mutating func onAlarm(_ incoming: IncomingAlarm, now: Timestamp) -> [Action] {
        let a = incoming.document
        if let reason = refusal(of: incoming.signature, fleet: a.fleet, epoch: a.epoch) {
            return [.report(.alarmIgnored(a.version, reason: reason))]
        }
        guard a.version != activeVersion else {
            return [.report(.alarmIgnored(a.version, reason: "\(a.version) runs here; an alarm never touches it (a rollback does)"))]
        }
        guard stopped.insert(a.version).inserted else { return [] }
        guard var d = deployment, d.version == a.version else {
            return [.report(.alarmTaken(a.version, reason: a.reason, discarded: false))]
        }
        switch d.stage {
        case .prepared(let own):
            var actions: [Action] = [.discardCompiled(a.version)]
            if d.activation != nil { actions.append(.cancelTimer(.barrier(a.version))) }
            d.activation = nil
            d.stage = .stopped(own: own, reason: a.reason)
            deployment = d
            return actions + [.report(.alarmTaken(a.version, reason: a.reason, discarded: true))]
        case .receiving, .compiling, .notTargeted, .answered, .stopped:
            // Still receiving or compiling: `onCompiled` drops it when it is done. Answered: it refused it (it runs
            // nothing of it). Either way the alarm holds for any activation to come.
            return [.report(.alarmTaken(a.version, reason: a.reason, discarded: false))]
        }
    }

    /// Whether an alarm read back from the alarm stream could change anything here: its version is newer than the one
    /// this node runs (an older one can never be swapped in) and not stopped already. Live alarms are all handed in.
    public func alarmMatters(_ alarm: Alarm) -> Bool {
        alarm.version > activeVersion && !stopped.contains(alarm.version)
    }

    /// A version compiled after an alarm stopped it: dropped, never swapped in, and no ack is signed for it.
    mutating func stopCompiled(_ version: Version) -> [Action] {
        guard var d = deployment, d.version == version else { return [] }
        d.stage = .stopped(own: d.own, reason: "stopped by an alarm before it was swapped in")
        deployment = d
        return [.discardCompiled(version), .report(.alarmTaken(version, reason: "compiled after the alarm", discarded: true))]
    }
}
