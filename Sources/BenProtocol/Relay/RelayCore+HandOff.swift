import BenCore
import NIOCore

/// The relay check, one rule in one place (issue 14): a relay looks at each child's queue at a steady
/// interval, hands off what its upload cannot keep up with, and keeps quiet links alive.
extension RelayCore {
    /// One relay check. The check keeps running while chunks still arrive here (`receiving`) or a child still has
    /// a backlog of at least `threshold`, and never past the deployment's `deadline` (a dead child would keep it
    /// going forever). Returns what to do and when to check next (nil: stop).
    mutating func relayCheck(
        threshold: Int, interval: Duration, chunkBytes: Int64, receiving: Bool, now: Timestamp, deadline: Timestamp
    ) -> (actions: [RelayAction], next: Timestamp?) {
        let actions = handOffBacklogs(threshold: threshold, interval: interval, chunkBytes: chunkBytes)
        let next = now + interval
        let goOn = (receiving || hasBacklog(atLeast: threshold)) && next < deadline
        return (actions, goOn ? next : nil)
    }

    /// Hands off what this relay's upload cannot keep up with, and keeps quiet links alive. Call it at a steady
    /// `interval` while children are being fed.
    ///
    /// A child whose queue (chunks held here, not yet sent) was at least `threshold` at the last check, has not
    /// shrunk since, and got less than half of what the plan's stripe rate expects over the interval is being fed
    /// slower than planned: a slow relay would otherwise pace everything below it. The newer half of that queue
    /// is taken off it and the child is told, with NACK `lacking`, to fetch those chunks elsewhere (its backups,
    /// then the ledger's store). A queue that is draining, or a relay sending at the planned rate (its queue
    /// grows only because chunks arrive in bursts), is left alone. Without a planned rate, the queue alone
    /// decides. A child this relay has sent nothing since the last check, and that still lacks chunks of its
    /// stripes, gets an empty NACK: the relay is alive and waiting on its own parent, so the child need not go
    /// elsewhere.
    mutating func handOffBacklogs(threshold: Int, interval: Duration, chunkBytes: Int64) -> [RelayAction] {
        var actions: [RelayAction] = []
        for id in children.keys.sorted() {
            guard var child = children[id], child.phase == .streaming, let link = child.link else { continue }
            let sent = child.sentChunks - child.sentAtLastCheck
            let backlog = child.queue.count
            let rate = child.subtrees.values.first?.stripeRate ?? 0
            let expected = rate > 0 && chunkBytes > 0 ? Double(rate) * Double(interval.milliseconds) / 1000 / Double(chunkBytes) : 0
            let behindPlan = expected == 0 || Double(sent) < expected / 2
            if backlog >= threshold, child.lastBacklog >= threshold, backlog >= child.lastBacklog, behindPlan {
                let handed = Array(child.queue.suffix(backlog / 2))
                child.queue.removeLast(handed.count)
                for index in handed {
                    child.queued.remove(Int(index))
                    // Counted as the child's from now on; a NACK `want` from it puts one back in the queue.
                    child.has.insert(Int(index))
                }
                actions.append(.send(link, .nack(handed.map { NackEntry(index: UInt32($0), code: .lacking) })))
                actions.append(.report(.backlogHandedOff(child: id, chunks: handed.count, backlog: backlog)))
            } else if sent == 0, child.inFlight == 0, child.queue.isEmpty, child.hasManifest, !isFullySent(child) {
                actions.append(.send(link, .nack([])))
            }
            child.lastBacklog = child.queue.count
            child.sentAtLastCheck = child.sentChunks
            children[id] = child
        }
        return actions
    }

    /// Whether a streaming child still has at least `threshold` chunks queued here (the relay check keeps
    /// running while one has).
    func hasBacklog(atLeast threshold: Int) -> Bool {
        children.values.contains { $0.phase == .streaming && $0.queue.count >= threshold }
    }
}
