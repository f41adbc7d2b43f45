public import BenCore

/// Things worth an operator's attention, as values; the shell logs them with metadata.
public enum PeerReport: Sendable, Hashable, CustomStringConvertible {
    case announcementRefused(version: Version, reason: AnnouncementRefusal)
    case announcementAccepted(Version)
    case tamperedChunk(index: Int, from: NodeID)
    case tamperedManifest(from: NodeID)
    case childUnreachable(NodeID, reason: String, adopted: [NodeID])
    /// Gossip declared a child dead while chunks written to it were still leaving: it is kept (a busy machine
    /// misses pings) and given up on only once nothing leaves for it.
    case childDeadButMoving(NodeID, reason: String)
    case orphaned(Version)
    case stripeStalled(stripe: Int, missing: Int)
    /// This relay's upload to a child fell behind what arrives for it; the newest queued chunks were handed to
    /// the child to fetch elsewhere.
    case backlogHandedOff(child: NodeID, chunks: Int, backlog: Int)
    case activated(Version)
    case refused(Version, reason: String)
    /// Asked again about a version it already answered, the node sent its signed answer again.
    case answeredAgain(Version, status: Ack.Status, via: String)
    /// The node sent its signed ack or aggregate up: to its ack parent, or over NATS.
    case aggregateSent(Version, acks: Int, missing: Int, via: String)
    case superseded(old: Version, new: Version)
    case protocolViolation(LinkID, String)
    /// Two-phase: compiled and held; the signed `prepared` ack went up. The old version keeps serving.
    case prepared(Version)
    /// Two-phase: the ledger's activation was accepted; the prepared version swaps in at `barrier`.
    case activationAccepted(Version, barrier: Timestamp)
    /// An activation this node does not act on, and why (not prepared, another fleet, a bad signature, …).
    case activationIgnored(Version, reason: String)
    /// Two-phase: the prepared version was swapped in, `late` after the barrier (by this node's clock).
    case swappedAtBarrier(Version, barrier: Timestamp, late: Duration)
    /// The ledger's alarm stopped `version`: `discarded` says whether a compiled, unswapped copy was dropped.
    case alarmTaken(Version, reason: String, discarded: Bool)
    /// An alarm this node does not act on, and why (a bad signature, another fleet, an older epoch, the version runs).
    case alarmIgnored(Version, reason: String)

    /// The report as logs print it.
    public var description: String {
        switch self {
        case .announcementRefused(let v, let r): "refused announcement of \(v): \(r)"
        case .announcementAccepted(let v): "accepted announcement of \(v)"
        case .tamperedChunk(let i, let n): "chunk \(i) from \(n) does not match its key; refused, fetching it elsewhere"
        case .tamperedManifest(let n): "manifest from \(n) does not match the announced key; refused"
        case .childUnreachable(let c, let r, let a):
            "child \(c) unreachable (\(r)); adopted \(a.isEmpty ? "no one" : a.map(\.rawValue).joined(separator: ", "))"
        case .childDeadButMoving(let c, let r): "child \(c) \(r), but chunks to it are still leaving; kept"
        case .orphaned(let v): "no parent reached this node for \(v); pulling from the ledger's store"
        case .stripeStalled(let s, let m): "stripe \(s) stalled with \(m) chunks missing; fetching them elsewhere"
        case .backlogHandedOff(let c, let n, let b):
            "upload to \(c) is \(b) chunks behind and growing; handed it the newest \(n) to fetch elsewhere"
        case .activated(let v): "activated \(v)"
        case .refused(let v, let r): "refused \(v): \(r)"
        case .answeredAgain(let v, let status, let via):
            "asked again about \(v): sent the same signed \(status == .refused ? "refusal" : status == .prepared ? "prepared ack" : "ack") \(via)"
        case .aggregateSent(let v, let acks, let missing, let via):
            "sent the aggregate for \(v) \(via): \(acks) \(acks == 1 ? "ack" : "acks"), \(missing) missing"
        case .superseded(let o, let n): "\(o) superseded by \(n)"
        case .protocolViolation(let l, let d): "protocol violation on \(l): \(d)"
        case .prepared(let v): "prepared \(v): compiled and held, waiting for the activation"
        case .activationAccepted(let v, let b): "activation of \(v) accepted: swapping at \(b.rfc3339)"
        case .activationIgnored(let v, let r): "activation of \(v) ignored: \(r)"
        case .swappedAtBarrier(let v, let b, let late): "swapped \(v) in at the barrier \(b.rfc3339) (\(late.milliseconds) ms after it)"
        case .alarmTaken(let v, let r, let discarded):
            "alarm: \(v) stopped (\(r))\(discarded ? "; its prepared copy is discarded" : ""); no activation of it is taken"
        case .alarmIgnored(let v, let r): "alarm for \(v) ignored: \(r)"
        }
    }
}
