public import BenCore
import BenProtocol
import BenTopology

/// What a gossip-engine run showed: how each announcement spread, what the traffic cost, what membership got
/// wrong, and the invariants checked against the ground truth the engine kept.
public struct GossipOutcome: Sendable {
    public struct AnnouncementFigures: Sendable {
        public var version: Version
        public var publishedAt: Double
        /// Nodes that must learn it: every node not crashed by the end.
        public var live: Int
        public var learned: Int
        /// Learned by gossip rather than NATS.
        public var byGossip: Int
        /// Seconds from publication until every live node had accepted it; nil if some never did.
        public var allLearnedAfter: Double?
        public var p50: Double?
        public var p99: Double?
        /// Hops the gossip copy took to each node (Plumtree rounds).
        public var maxHops: Int
        public var meanHops: Double
        /// Eager copies a node received after its first (Plumtree duplicates), per live node, while this version spread.
        public var duplicatesPerNode: Double
        public var grafts: Int
        /// Seconds from publication until the ledger held a signed ack from every live node; nil if it never did.
        public var timeToActive: Double?
        public var acked: Int
        /// Seconds from publication until each node's ack reached the ledger: median and 99th percentile.
        public var ackP50: Double?
        public var ackP99: Double?
    }

    /// A broken invariant: which, and what was seen.
    public struct Violation: Sendable, Hashable, CustomStringConvertible {
        public enum Invariant: String, Sendable, Hashable, CaseIterable {
            case newestLearnedWithinBound = "after a heal, every live node learns the newest valid announcement within the bound"
            case unauthenticatedAdmitted = "no unauthenticated member is ever admitted"
            case aliveLeftDead = "a node that stays alive and reachable is never left declared dead"
            case wire = "every datagram survives the codec within its bound"
        }

        public var invariant: Invariant
        public var detail: String

        public var description: String { "\(invariant.rawValue): \(detail)" }
    }

    public var scenario: String
    public var seed: UInt64
    public var nodes: Int
    public var viewSize: Int
    public var membership: Bool
    public var simulatedSeconds: Double
    public var events: Int
    public var announcements: [AnnouncementFigures]
    /// Bytes sent per node per second over the run, signatures included: all traffic, and by plane.
    public var bytesPerNodePerSecond: Double
    public var membershipBytesPerNodePerSecond: Double
    public var treeBytesPerNodePerSecond: Double
    public var antiEntropyBytesPerNodePerSecond: Double
    public var datagrams: Int
    public var linkMessages: Int
    public var dropped: Int
    public var largestDatagram: Int
    /// Distinct nodes declared dead by some node's own failure detector (its suspicion ran out) while they were
    /// running and reachable from it: the detector's false positives.
    public var falselyDeclared: Int
    /// Distinct running, reachable nodes that some node took to be dead from others' news (after a partition heals,
    /// until the node refutes; includes the declared ones' spread).
    public var falselyDead: Int
    public var falseSuspicions: Int
    public var refutations: Int
    public var crashed: Int
    /// Seconds from a crash until the first node declared it dead (crashed nodes that were detected).
    public var detectionP50: Double?
    public var detectionMax: Double?
    public var undetected: Int
    /// Acks of nodes without NATS that a peer published for them.
    public var acksRelayed: Int
    /// Documents pulled by anti-entropy (announcements a node lacked, acks it published for a peer).
    public var pulls: Int
    public var refused: [String: Int]
    /// Judging the bound needs the run to last that long after the heal; nodes it could not judge.
    public var unjudged: Int
    public var violations: [Violation]
    /// A digest of the run's events (hex); the same scenario and seed give the same one.
    public var fingerprint: String
    public var wallSeconds: Double = 0

    public var passed: Bool { violations.isEmpty }
}

extension GossipEngine {
    func outcome() -> GossipOutcome {
        let live = (0..<n).filter { !killed[$0] }
        let seconds = max(1e-9, Double(now) / 1e9)
        var figures: [GossipOutcome.AnnouncementFigures] = []
        let duplicatesNow = broadcast.reduce(0) { $0 + $1.duplicates }
        for k in documents.indices {
            let times = live.compactMap { learnedAt[k][$0] >= 0 ? Double(learnedAt[k][$0] - publishedAt[k]) / 1e9 : nil }.sorted()
            let acks = live.compactMap { ackAtLedger[k][$0] >= 0 ? Double(ackAtLedger[k][$0] - publishedAt[k]) / 1e9 : nil }.sorted()
            let dupEnd = k + 1 < duplicatesAtPublish.count ? duplicatesAtPublish[k + 1] : duplicatesNow
            let graftEnd = k + 1 < graftsAtPublish.count ? graftsAtPublish[k + 1] : grafts
            func quantile(_ q: Double, _ of: [Double]? = nil) -> Double? {
                let values = of ?? times
                return values.isEmpty ? nil : values[min(values.count - 1, Int(q * Double(values.count)))]
            }
            let byGossip = live.filter { learnedAt[k][$0] >= 0 && learnedByGossip[k][$0] }.count
            let all: Double? = times.count == live.count ? (times.last ?? 0) : nil
            let hopSum = hops[k].reduce(0) { $0 + Int($1) }
            let meanHops: Double = hops[k].isEmpty ? 0 : Double(hopSum) / Double(hops[k].count)
            let maxHops = Int(hops[k].max() ?? 0)
            let duplicates = Double(dupEnd - duplicatesAtPublish[k]) / Double(max(1, live.count))
            let active: Double? = acks.count == live.count ? (acks.max() ?? 0) : nil
            let f = GossipOutcome.AnnouncementFigures(
                version: Version(UInt64(k + 1)), publishedAt: Double(publishedAt[k]) / 1e9, live: live.count, learned: times.count, byGossip: byGossip,
                allLearnedAfter: all, p50: quantile(0.5), p99: quantile(0.99), maxHops: maxHops, meanHops: meanHops, duplicatesPerNode: duplicates,
                grafts: graftEnd - graftsAtPublish[k], timeToActive: active, acked: acks.count, ackP50: quantile(0.5, acks), ackP99: quantile(0.99, acks))
            figures.append(f)
        }
        let detections = killedNodes.compactMap { v in firstDeathSeen[v].map { Double($0 - Self.ns(scenario.kill?.at ?? 0)) / 1e9 } }.sorted()
        let (unjudged, checked) = checkInvariants()
        let endpoints = Double(n + 1)
        func perNode(_ bytes: Int64) -> Double { Double(bytes) / endpoints / seconds }
        let detectionP50: Double? = detections.isEmpty ? nil : detections[detections.count / 2]
        let undetected = scenario.membership ? killedNodes.count - detections.count : 0
        let totalBytes: Int64 = sentBytes.reduce(0, +)
        return GossipOutcome(
            scenario: scenario.name, seed: seed, nodes: n, viewSize: scenario.quota.total, membership: scenario.membership, simulatedSeconds: seconds,
            events: eventsHandled, announcements: figures, bytesPerNodePerSecond: perNode(totalBytes),
            membershipBytesPerNodePerSecond: perNode(bytesByPlane[0]), treeBytesPerNodePerSecond: perNode(bytesByPlane[1]),
            antiEntropyBytesPerNodePerSecond: perNode(bytesByPlane[2]), datagrams: datagrams, linkMessages: linkMessages, dropped: dropped,
            largestDatagram: largestDatagram, falselyDeclared: falselyDeclared.count, falselyDead: falselyDead.union(falselyDeclared).count, falseSuspicions: falseSuspicions, refutations: refutations,
            crashed: killedNodes.count, detectionP50: detectionP50, detectionMax: detections.last,
            undetected: undetected, acksRelayed: acksRelayed, pulls: pulls, refused: refused, unjudged: unjudged,
            violations: checked, fingerprint: String(fingerprint, radix: 16))
    }

    /// Checks the invariants against the ground truth; returns how many nodes the bound could not be judged for
    /// (the run ended too soon after their heal) and every violation.
    func checkInvariants() -> (Int, [GossipOutcome.Violation]) {
        var out = violations
        var unjudged = 0
        let end = now
        // 1. Every live node learned the newest announcement within the bound of its last heal.
        if let k = documents.indices.last {
            var late: [String] = []
            for v in 0..<n where !killed[v] {
                var reference = publishedAt[k]
                if let p = scenario.partition, zoneOf[v] == partitionZone, Self.ns(p.until) > reference { reference = Self.ns(p.until) }
                if let resume = resumeAt[Int32(v)], resume > reference { reference = resume }
                let deadline = reference + Self.ns(scenario.bound)
                if learnedAt[k][v] >= 0 && learnedAt[k][v] <= deadline { continue }
                if deadline > end {
                    unjudged += 1
                    continue
                }
                late.append(learnedAt[k][v] < 0 ? "\(ids[v]) never" : "\(ids[v]) after \(formatDuration(Double(learnedAt[k][v] - reference) / 1e9))")
            }
            if !late.isEmpty {
                out.append(
                    .init(
                        invariant: .newestLearnedWithinBound,
                        detail: "\(late.count) live node(s) did not learn v\(k + 1) within \(formatDuration(scenario.bound)) of their heal: \(late.prefix(5).joined(separator: ", "))"))
            }
        }
        // 3. Once every fault has ended and settled, no live node holds a live, reachable node dead.
        if scenario.membership {
            var lastFault: Int64 = 0
            if let p = scenario.partition { lastFault = max(lastFault, Self.ns(p.until)) }
            if let p = scenario.pause { lastFault = max(lastFault, Self.ns(p.until)) }
            if let k = scenario.kill { lastFault = max(lastFault, Self.ns(k.at)) }
            if end >= lastFault + Self.ns(scenario.settle) {
                var wrong: [String] = []
                for pair in down.sorted() {
                    let v = Int(pair >> 32)
                    let subject = Int(pair & 0xFFFF_FFFF)
                    guard !killed[v], !paused[v], !killed[subject], !paused[subject], !partitioned(Int32(v), Int32(subject)) else { continue }
                    if membership[v].status(of: ids[subject])?.status == .dead { wrong.append("\(ids[v]) holds \(ids[subject]) dead") }
                }
                if !wrong.isEmpty {
                    out.append(
                        .init(
                            invariant: .aliveLeftDead,
                            detail: "\(wrong.count) live, reachable node(s) still held dead \(formatDuration(Double(end - lastFault) / 1e9)) after the last fault: \(wrong.prefix(5).joined(separator: "; "))"))
                }
            }
        }
        return (unjudged, out)
    }
}

extension GossipOutcome {
    /// The figures and the verdict, for a terminal.
    public var table: String {
        var out = "gossip engine: \(nodes) nodes and the ledger, views of \(viewSize), seed \(seed), \(events) events, \(formatDuration(simulatedSeconds)) simulated"
        if wallSeconds > 0 { out += ", \(formatSeconds(wallSeconds)) wall" }
        out += "\n"
        let log2N = naturalLog(Double(nodes + 1)) / naturalLog(2)
        for a in announcements {
            out += "  \(a.version) at \(formatDuration(a.publishedAt)): \(a.learned)/\(a.live) live nodes learned it (\(a.byGossip) by gossip)"
            if let all = a.allLearnedAfter { out += ", all within \(formatDuration(all)) (p50 \(formatDuration(a.p50 ?? 0)))" }
            out += "; max \(a.maxHops) hops, mean \(format(a.meanHops)) (log2 N = \(format(log2N))); \(format(a.duplicatesPerNode)) duplicates per node, \(a.grafts) grafts"
            if let t = a.timeToActive {
                out += "; active after \(formatDuration(t)) (acks p50 \(formatDuration(a.ackP50 ?? 0)), p99 \(formatDuration(a.ackP99 ?? 0)))"
            } else if a.acked > 0 {
                out += "; \(a.acked)/\(a.live) acks at the ledger"
            }
            out += "\n"
        }
        out += "  traffic: \(format(bytesPerNodePerSecond)) B per node per second (membership \(format(membershipBytesPerNodePerSecond)), tree \(format(treeBytesPerNodePerSecond)), anti-entropy \(format(antiEntropyBytesPerNodePerSecond))); \(datagrams) datagrams, largest \(largestDatagram) B; \(linkMessages) over links; \(dropped) lost; \(pulls) pulls\n"
        if membership {
            out += "  membership: \(falselyDeclared) live node(s) falsely declared dead by a failure detector (\(falselyDead) held dead from news), \(falseSuspicions) false suspicions, \(refutations) refutations"
            if crashed > 0 {
                out += "; \(crashed - undetected)/\(crashed) crashed nodes detected"
                if let p50 = detectionP50, let max = detectionMax { out += " in p50 \(formatDuration(p50)), max \(formatDuration(max))" }
            }
            out += "\n"
        }
        if acksRelayed > 0 { out += "  acks of nodes without NATS published by a peer: \(acksRelayed)\n" }
        if !refused.isEmpty { out += "  refused: " + refused.keys.sorted().map { "\(refused[$0]!) \($0)" }.joined(separator: ", ") + "\n" }
        if unjudged > 0 { out += "  \(unjudged) node(s) not judged: the run ends before their bound\n" }
        out += passed ? "  invariants: all hold\n" : "  invariants: \(violations.count) violated\n" + violations.map { "    \($0)\n" }.joined()
        return out
    }

    func format(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? "\(Int(r))" : "\(r)"
    }

    /// The outcome as JSON (`ben/sim-gossip-report/v1`); wall time only if asked, so the same run gives the same bytes.
    public func json(includeWallTimes: Bool = false) -> JSONValue {
        func number(_ x: Double?) -> JSONValue { x.map { .double($0) } ?? .null }
        var object: [String: JSONValue] = [
            "format": .string("ben/sim-gossip-report/v1"),
            "scenario": .string(scenario),
            "seed": .int(Int64(bitPattern: seed)),
            "nodes": .int(Int64(nodes)),
            "view_size": .int(Int64(viewSize)),
            "membership": .bool(membership),
            "simulated_seconds": .double(simulatedSeconds),
            "events": .int(Int64(events)),
            "announcements": .array(announcements.map { a in
                .object([
                    "version": .int(Int64(a.version.rawValue)), "published_at": .double(a.publishedAt), "live": .int(Int64(a.live)),
                    "learned": .int(Int64(a.learned)), "by_gossip": .int(Int64(a.byGossip)), "all_learned_after": number(a.allLearnedAfter),
                    "p50": number(a.p50), "p99": number(a.p99), "max_hops": .int(Int64(a.maxHops)), "mean_hops": .double(a.meanHops),
                    "duplicates_per_node": .double(a.duplicatesPerNode), "grafts": .int(Int64(a.grafts)), "time_to_active": number(a.timeToActive),
                    "acked": .int(Int64(a.acked)), "ack_p50": number(a.ackP50), "ack_p99": number(a.ackP99),
                ])
            }),
            "bytes_per_node_per_second": .double(bytesPerNodePerSecond),
            "membership_bytes_per_node_per_second": .double(membershipBytesPerNodePerSecond),
            "tree_bytes_per_node_per_second": .double(treeBytesPerNodePerSecond),
            "anti_entropy_bytes_per_node_per_second": .double(antiEntropyBytesPerNodePerSecond),
            "datagrams": .int(Int64(datagrams)),
            "link_messages": .int(Int64(linkMessages)),
            "dropped": .int(Int64(dropped)),
            "largest_datagram": .int(Int64(largestDatagram)),
            "falsely_declared": .int(Int64(falselyDeclared)),
            "falsely_dead": .int(Int64(falselyDead)),
            "false_suspicions": .int(Int64(falseSuspicions)),
            "refutations": .int(Int64(refutations)),
            "crashed": .int(Int64(crashed)),
            "detection_p50": number(detectionP50),
            "detection_max": number(detectionMax),
            "undetected": .int(Int64(undetected)),
            "acks_relayed": .int(Int64(acksRelayed)),
            "pulls": .int(Int64(pulls)),
            "refused": .object(refused.mapValues { .int(Int64($0)) }),
            "unjudged": .int(Int64(unjudged)),
            "violations": .array(violations.map { .object(["invariant": .string($0.invariant.rawValue), "detail": .string($0.detail)]) }),
            "fingerprint": .string(fingerprint),
        ]
        if includeWallTimes { object["wall_seconds"] = .double(wallSeconds) }
        return .object(object)
    }

    public func jsonText(includeWallTimes: Bool = false) -> String {
        (try? CanonicalJSON.string(json(includeWallTimes: includeWallTimes))) ?? "{}"
    }
}

/// Runs a gossip scenario on the gossip engine.
public enum GossipSimulation {
    /// - Parameters:
    ///   - seed: the scenario's seed unless given.
    ///   - sabotage: deliberate breakage, for showing the checker catches it.
    public static func run(scenario: GossipScenario, seed: UInt64? = nil, sabotage: GossipEngine.Sabotage = .init()) throws(SimError) -> GossipOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        let engine = try GossipEngine(scenario: scenario, seed: seed, sabotage: sabotage)
        var outcome = try engine.run()
        let elapsed = clock.now - start
        outcome.wallSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return outcome
    }
}
