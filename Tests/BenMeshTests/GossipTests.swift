import BenCore
import BenCrypto
import BenPeerLink
import BenTestKit
import Foundation
import Logging
import Testing

/// Issue 16, item 4: gossip between real processes (a real nats-server, the ledger, one `ben-agent` each). A rack
/// cut off from NATS still completes a rollout; a partition heals and an incomplete rollout becomes active by itself;
/// a stopped node is suspected, declared dead, and rejoins once it continues; a node that never heard an
/// announcement catches up from a peer.
@Suite(.serialized) struct GossipTests {
    let intent = ProcessRunner.repositoryRoot() + "/examples/intent"

    /// A loopback port nothing listens on: `--nats` there is NATS blackholed (every connect is refused, forever).
    static func blackholedNATS() throws -> String { "nats://127.0.0.1:\(try FreePorts.take(1)[0])" }

    /// Every node of rack `rack` cut off from NATS: they gossip from the topology file (they cannot fetch it).
    /// Six nodes in two racks, r2 cut off from NATS (`cutOffFromNATS`), all running: the rest ready, r2 gossiping.
    static func runningWithRackCutOff(extra: [String] = []) async throws -> (LocalFleet, cut: [NodeID]) {
        let fleet = try await LocalFleet(nodes: 6, rackSize: 3)
        let cut = try cutOffFromNATS(fleet, rack: "r2", extra: extra)
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady(fleet.nodes.map(\.id).filter { !cut.contains($0) })
        try await waitGossiping(fleet, cut)
        return (fleet, cut)
    }

    static func cutOffFromNATS(_ fleet: LocalFleet, rack: String, extra: [String] = []) throws -> [NodeID] {
        let cut = fleet.nodes.filter { $0.rack == rack }.map(\.id)
        let nowhere = try blackholedNATS()
        for id in cut {
            fleet.natsURLOverride[id] = nowhere
            fleet.nodeArguments[id] = ["--topology", fleet.topologyPath] + extra
        }
        return cut
    }

    /// Waits until each agent's gossip listens (the `times`-th time).
    static func waitGossiping(_ fleet: LocalFleet, _ ids: [NodeID], times: Int = 1) async throws {
        try await fleet.waitUntil(timeout: .seconds(60), "gossip runs on \(ids.map(\.rawValue).joined(separator: ", "))") {
            ids.allSatisfy { fleet.agentLog($0).components(separatedBy: "gossip listening").count - 1 >= times }
        }
    }

    /// `benctl members --json`: each node's status and incarnation, as the ledger sees them.
    static func members(_ fleet: LocalFleet) async -> [NodeID: (status: String, incarnation: Int64)] {
        guard let outcome = try? await fleet.benctl(["members", "--json"]), outcome.status == 0,
            let json = try? JSONParser.parse(outcome.stdout)
        else { return [:] }
        var out: [NodeID: (String, Int64)] = [:]
        for row in json["members"]?.arrayValue ?? [] {
            guard let node = row["node"]?.stringValue.flatMap({ NodeID($0) }) else { continue }
            out[node] = (row["status"]?.stringValue ?? "?", row["incarnation"]?.intValue ?? -1)
        }
        return out
    }

    /// Lines of a log that carry `message` and name `node` in their metadata.
    static func lines(_ log: String, _ message: String, about node: NodeID) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains(message) && $0.contains("\(node)") }
    }

    // MARK: 1. A rack without NATS

    /// Rack r2 cannot reach NATS, and the aggregates carrying its nodes' own acks are lost on the way up the tree
    /// (`--fault-drop-acks`, as if their ack parent died right after taking them): without gossip nothing could bring
    /// those acks to the ledger, and the version would end incomplete. With gossip, a peer that has NATS (or the
    /// ledger itself) pulls each ack and publishes it, and the deploy becomes active.
    @Test func aRackCutOffFromNATSStillActivatesADeployThroughGossip() async throws {
        let (fleet, cut) = try await Self.runningWithRackCutOff(extra: ["--fault-drop-acks", "1"])
        let connected = fleet.nodes.map(\.id).filter { !cut.contains($0) }
        let v1 = try await fleet.stage(intent)
        let started = ContinuousClock.now
        // r2's acks reach the ledger by gossip within a second or two. r1's ride up the tree in node-1's aggregate,
        // which waits for its lost r2 child until just before the deadline (30 s): so v1 turns active near the
        // deadline, and on a loaded machine a moment after it (incomplete, then active as the late acks count).
        let deploy = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--timeout", "30"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        try await fleet.waitUntil(timeout: .seconds(90), "v1 becomes active") { (try? await fleet.status(v1).status) == "active" }
        print("v1 active after \(ContinuousClock.now - started) with r2 cut off from NATS and its tree acks lost")
        let status = try await fleet.status(v1)
        #expect(status.status == "active" && status.active == 6, "\(status.summary)")
        for id in cut {
            let log = fleet.agentLog(id)
            #expect(log.contains("fault injection: lost an aggregate carrying this node's own ack"), "\(id)'s tree ack was lost")
            #expect(log.contains("ack relayed to the ledger by a peer"), "\(id)'s ack went by gossip:\n\(log.suffix(2000))")
            #expect(!log.contains("following announcements"), "\(id) never reached NATS")
        }
        // The relays: each lost ack was published by a node that has NATS, or taken by the ledger's own gossip.
        let relayed = connected.flatMap { Self.lines(fleet.agentLog($0), "relayed a peer's signed ack", about: $0) }.count
            + fleet.ledgerLog.components(separatedBy: "an ack came by gossip").count - 1
        #expect(relayed >= cut.count, "every cut node's ack was relayed at least once (\(relayed))")
    }

    // MARK: 2. A partition, then a heal

    /// Rack r2 has no NATS, and its gossip is cut off from the rest (a test-only fault). The ledger's membership
    /// declares r2's nodes dead, so the plan leaves them out (`down`) and v1 ends incomplete. When the partition
    /// heals, r2 refutes, pulls the announcement from a peer (anti-entropy), fetches the bundle from the ledger's
    /// store, and its acks reach the ledger through peers that have NATS: v1 becomes active by itself.
    @Test func anIncompleteRolloutBecomesActiveByItselfWhenAPartitionHeals() async throws {
        let fleet = try await LocalFleet(nodes: 6, rackSize: 3)
        let partition = fleet.directory.file("partition.txt")
        let cut = try Self.cutOffFromNATS(fleet, rack: "r2", extra: ["--fault-gossip-partition", partition])
        let others = fleet.nodes.map(\.id).filter { !cut.contains($0) }
        // The rest gossip from the start too, so the ledger's membership hears from someone and may decide.
        for id in others { fleet.nodeArguments[id] = ["--topology", fleet.topologyPath] }
        try (others.map(\.rawValue) + ["ledger"]).joined(separator: "\n").write(toFile: partition, atomically: true, encoding: .utf8)
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady(others)
        try await Self.waitGossiping(fleet, fleet.nodes.map(\.id))
        _ = try await fleet.benctl(["topology", "apply", fleet.topologyPath])
        try await fleet.waitUntil(timeout: .seconds(90), "the ledger holds r2 dead") {
            let members = await Self.members(fleet)
            return cut.allSatisfy { members[$0]?.status == "dead" }
        }
        let v1 = try await fleet.stage(intent)
        let deploy = try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "15"])
        #expect(deploy.status == 2, "incomplete while r2 is cut off: \(deploy.stdout)\(deploy.stderr)")
        let incomplete = try await fleet.status(v1)
        #expect(Set(incomplete.missing.map(\.node)) == Set(cut), "\(incomplete.missing)")
        for missing in incomplete.missing {
            #expect(missing.reason.code == .down && missing.reason.text.contains("declared dead by gossip"), "\(missing.node): \(missing.reason)")
        }
        for id in cut { #expect(!fleet.agentLog(id).contains("accepted announcement of v1"), "\(id) heard nothing during the partition") }

        try FileManager.default.removeItem(atPath: partition)
        let healed = ContinuousClock.now
        try await fleet.waitUntil(timeout: .seconds(120), "v1 becomes active by itself after the heal") {
            (try? await fleet.status(v1).status) == "active"
        }
        print("v1 active \(ContinuousClock.now - healed) after the heal")
        for id in cut {
            let log = fleet.agentLog(id)
            #expect(log.contains("announcement by gossip"), "\(id) learnt v1 from a peer:\n\(log.suffix(2000))")
            #expect(log.contains("ack relayed to the ledger by a peer"), "\(id)'s ack went by gossip")
            #expect(fleet.agentState(id)?.active == v1)
        }
        // The ledger's reconnect probes reach them now: each refutes its death with a higher incarnation.
        try await fleet.waitUntil(timeout: .seconds(60), "the ledger holds r2 alive again") {
            let members = await Self.members(fleet)
            return cut.allSatisfy { members[$0]?.status == "alive" && (members[$0]?.incarnation ?? 0) >= 1 }
        }
    }

    // MARK: 3. SIGSTOP, then SIGCONT

    /// A stopped process answers no probe: its peers suspect it, then declare it dead (the ledger's membership
    /// says so). After SIGCONT it hears it was declared dead, refutes with a higher incarnation and is alive again.
    @Test func aStoppedNodeIsSuspectedThenDeclaredDeadAndRejoinsAfterItContinues() async throws {
        let fleet = try await LocalFleet(nodes: 5, rackSize: 3)
        for node in fleet.nodes { fleet.nodeArguments[node.id] = ["--topology", fleet.topologyPath] }
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        try await Self.waitGossiping(fleet, fleet.nodes.map(\.id))
        _ = try await fleet.benctl(["topology", "apply", fleet.topologyPath])
        try await fleet.waitUntil(timeout: .seconds(60), "the ledger hears every member alive") {
            let members = await Self.members(fleet)
            return members.count == 5 && members.values.allSatisfy { $0.status == "alive" }
        }
        let victim = fleet.nodes[4].id
        let before = await Self.members(fleet)[victim]?.incarnation ?? 0
        fleet.agents[victim]?.signal(SIGSTOP)
        let stopped = ContinuousClock.now
        defer { fleet.agents[victim]?.signal(SIGCONT) }
        try await fleet.waitUntil(timeout: .seconds(60), "the ledger suspects \(victim)") {
            !Self.lines(fleet.ledgerLog, "member suspect", about: victim).isEmpty
        }
        let suspectedAfter = ContinuousClock.now - stopped
        try await fleet.waitUntil(timeout: .seconds(90), "the ledger holds \(victim) dead") {
            await Self.members(fleet)[victim]?.status == "dead"
        }
        print("\(victim) suspected \(suspectedAfter) and declared dead \(ContinuousClock.now - stopped) after SIGSTOP")
        // The operator's view: by location, the dead node with its incarnation and when it was last heard from.
        let table = try await fleet.benctl(["members"])
        print(table.stdout)
        let location = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix("  ") && !$0.hasPrefix("    ") && $0.contains("1 dead") })
        #expect(location.contains("/"), "a location heads its members: \(location)")
        let row = try #require(table.stdout.split(separator: "\n").first { $0.contains("\(victim) ") })
        #expect(row.contains("dead") && row.contains("incarnation \(before)") && row.contains("heard ") && row.contains("runs none"), "\(row)")
        let ledgerLines = fleet.ledgerLog.split(separator: "\n")
        let suspected = try #require(ledgerLines.firstIndex { $0.contains("member suspect") && $0.contains("\(victim)") })
        let declared = try #require(ledgerLines.firstIndex { $0.contains("member dead") && $0.contains("\(victim)") })
        #expect(suspected < declared, "suspect before dead")

        fleet.agents[victim]?.signal(SIGCONT)
        let continued = ContinuousClock.now
        try await fleet.waitUntil(timeout: .seconds(60), "\(victim) is alive again at a higher incarnation") {
            let member = await Self.members(fleet)[victim]
            return member?.status == "alive" && (member?.incarnation ?? 0) > before
        }
        print("\(victim) alive again \(ContinuousClock.now - continued) after SIGCONT")
        #expect(fleet.agentLog(victim).contains("refuted a suspicion of this node"))
        let others = await Self.members(fleet)
        #expect(others.filter { $0.key != victim }.values.allSatisfy { $0.status == "alive" }, "no one else was declared dead: \(others)")
    }

    // MARK: 4. A node that never heard the announcement

    /// A node down during a rollout comes back with NATS blackholed: JetStream cannot tell it about v2, but its
    /// peers' digests say there is a newer version. It pulls the announcement from a peer, fetches the bundle from
    /// the ledger's store, and its ack reaches the ledger through a peer: v2 becomes active.
    @Test func aNodeThatNeverHeardTheAnnouncementCatchesUpFromAPeer() async throws {
        let fleet = try await LocalFleet(nodes: 4, rackSize: 2)
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        let v1 = try await fleet.stage(intent)
        #expect(try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "60"]).status == 0)
        // Gossip needs the topology; without --topology each agent fetches the one v1's signed announcement names.
        try await Self.waitGossiping(fleet, fleet.nodes.map(\.id))

        let late = fleet.nodes[3].id
        await fleet.stopAgent(late)
        let v2Source = fleet.directory.file("intent-v2")
        try FileManager.default.copyItem(atPath: intent, toPath: v2Source)
        let edge = v2Source + "/policies/edge.yaml"
        try String(contentsOfFile: edge, encoding: .utf8).replacingOccurrences(of: "1000000u", with: "2000000u")
            .write(toFile: edge, atomically: true, encoding: .utf8)
        let v2 = try await fleet.stage(v2Source)
        let deploy = try await fleet.benctlInBackground(["deploy", "\(v2.rawValue)", "--wait", "--timeout", "10"])
        #expect(deploy.status == 2, "incomplete without \(late): \(deploy.stdout)\(deploy.stderr)")
        #expect(try await fleet.status(v2).missing.map(\.node) == [late])

        fleet.natsURLOverride[late] = try Self.blackholedNATS()
        try await fleet.startAgent(late)
        let restarted = ContinuousClock.now
        try await fleet.waitUntil(timeout: .seconds(120), "v2 is active with \(late)'s ack") { (try? await fleet.status(v2).status) == "active" }
        print("v2 active \(ContinuousClock.now - restarted) after \(late) restarted without NATS")
        let log = try #require(fleet.agentLog(late).components(separatedBy: "gossip listening").last)
        #expect(log.contains("announcement by gossip"), "it heard v2 from a peer:\n\(log.suffix(3000))")
        #expect(log.contains("accepted announcement of v2"))
        #expect(log.contains("transfer complete"))
        #expect(log.contains("ack relayed to the ledger by a peer"))
        #expect(!log.contains("following announcements"), "it never reached NATS")
        #expect(fleet.agentState(late)?.active == v2)
    }

    // MARK: 5. A two-phase rollout reaches a rack without NATS

    /// Rack r2 cannot reach NATS. It hears the announcement by gossip or in its parents' HELLO, prepares, and its
    /// prepared acks go up the tree; the ledger's signed activation goes out over NATS and into the broadcast tree, so
    /// r2 swaps at the barrier with everyone else (before, it prepared and never swapped).
    @Test func aRackCutOffFromNATSSwapsAtTheBarrierOfATwoPhaseRollout() async throws {
        let (fleet, cut) = try await Self.runningWithRackCutOff()
        let v1 = try await fleet.stage(intent)
        let deploy = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--two-phase", "--wait", "--timeout", "60"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        try await fleet.waitUntil(timeout: .seconds(60), "v1 becomes active") { (try? await fleet.status(v1).status) == "active" }
        for id in cut {
            let log = fleet.agentLog(id)
            #expect(!log.contains("following announcements"), "\(id) never reached NATS")
            #expect(log.contains("activation by gossip"), "\(id) took the activation from a peer:\n\(log.suffix(2000))")
            #expect(log.contains("swapped at the barrier"), "\(id) swapped at the barrier")
            #expect(fleet.agentState(id)?.active == v1)
        }
    }

    // MARK: 6. A revocation reaches a rack without NATS

    /// Dials `node`'s peer-link port as `member`, proving `member`'s own key; returns why the handshake was refused
    /// (nil if it was let in).
    static func dial(_ fleet: LocalFleet, _ node: LocalFleet.Node, as member: LocalFleet.Node) async -> String? {
        let security = LinkSecurity(fleet: fleet.fleet, node: member.id, key: member.key, ledgerKeys: TrustedKeys([fleet.ledgerKey.publicKey]))
        // As a member with the topology knows them: it checks the dialled node's key too.
        security.know(keys: Dictionary(uniqueKeysWithValues: fleet.nodes.map { ($0.id, $0.key.publicKey) }))
        do {
            let (channel, _) = try await PeerLink.connect(
                host: "127.0.0.1", port: node.port, target: node.id, settings: PeerLinkSettings(security: security),
                logger: Logger(label: "revoked member"))
            try? await channel.executeThenClose { _, _ in }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Rack r2 cannot reach NATS. The operator revokes node-1's key (`benctl revoke`): the ledger sends the signed
    /// revocation on NATS and into gossip, r2 hears it from a peer, keeps it, and from then on refuses node-1's peer
    /// links (its handshake proves the revoked key) and its gossip. Before, r2 let node-1's key in.
    @Test func aRackCutOffFromNATSLearnsARevocationByGossipAndRefusesTheRevokedKey() async throws {
        let fleet = try await LocalFleet(nodes: 6, rackSize: 3)
        let cut = try Self.cutOffFromNATS(fleet, rack: "r2")
        let connected = fleet.nodes.map(\.id).filter { !cut.contains($0) }
        // Every node gossips from the start (no deploy needed to learn the topology): node-1 too, whose gossip r2 must
        // then refuse.
        for id in connected { fleet.nodeArguments[id] = ["--topology", fleet.topologyPath] }
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady(connected)
        try await Self.waitGossiping(fleet, fleet.nodes.map(\.id))
        _ = try await fleet.stage(intent)  // applies the topology: the ledger knows node-1's key
        let revoked = try #require(fleet.nodes.first { $0.id == connected[0] })
        let target = try #require(fleet.nodes.first { $0.id == cut[0] })
        let before = await Self.dial(fleet, target, as: revoked)
        #expect(before == nil, "\(target.id) lets \(revoked.id)'s topology key in before the revocation: \(before ?? "")")

        let revoke = try await fleet.benctl(["revoke", "\(revoked.id)", "--reason", "its disk was stolen"])
        #expect(revoke.status == 0, "\(revoke.stdout)\(revoke.stderr)")
        #expect(revoke.stdout.contains("key \(revoked.key.keyID) of \(revoked.id) revoked"), "\(revoke.stdout)")
        try await fleet.waitUntil(timeout: .seconds(60), "r2 takes the revocation") {
            cut.allSatisfy { fleet.agentLog($0).contains("key revoked by the ledger") }
        }
        for id in cut {
            let log = fleet.agentLog(id)
            #expect(!log.contains("following announcements"), "\(id) never reached NATS")
            #expect(log.contains("revocation by gossip"), "\(id) heard it from a peer:\n\(log.suffix(2000))")
            let kept = (try? String(contentsOfFile: fleet.directory.file("agents/\(id)/revocations.json"), encoding: .utf8)) ?? ""
            #expect(kept.contains(revoked.key.keyID), "\(id) keeps it in its state directory")
        }
        let after = await Self.dial(fleet, target, as: revoked)
        #expect(after?.contains("revoked") == true, "\(target.id) refuses the revoked key's handshake: \(after ?? "let in")")
        try await fleet.waitUntil(timeout: .seconds(60), "r2 refuses \(revoked.id)'s gossip") {
            cut.allSatisfy { fleet.agentLog($0).contains("signed with a revoked key") }
        }
        let log = try await fleet.benctl(["log", "--json"])
        #expect(log.stdout.contains("\"revoke\"") && log.stdout.contains(revoked.key.keyID), "the revocation is in the audit log")
    }

    // MARK: 6b. A node away when a revocation went out catches up from a peer

    /// Rack r2 cannot reach NATS, and one of its nodes is not running when the operator revokes node-1's key: the
    /// broadcast passes it by. Started afterwards, still without NATS, it learns the revocation from a peer's
    /// anti-entropy (the digest names the revocations each node keeps; it pulls the one it lacks), keeps it, and
    /// refuses node-1's key. Without the revocation digest nothing ever sends it the revocation again.
    @Test func aNodeThatWasDownWhenARevocationWentOutLearnsItByAntiEntropyAndRefusesTheKey() async throws {
        let fleet = try await LocalFleet(nodes: 6, rackSize: 3)
        let cut = try Self.cutOffFromNATS(fleet, rack: "r2")
        let connected = fleet.nodes.map(\.id).filter { !cut.contains($0) }
        for id in connected { fleet.nodeArguments[id] = ["--topology", fleet.topologyPath] }
        let away = cut[0]
        let running = fleet.nodes.map(\.id).filter { $0 != away }
        try await fleet.startLedger()
        try await fleet.startAgents(running)
        try await fleet.waitUntilReady(connected)
        try await Self.waitGossiping(fleet, running)
        _ = try await fleet.stage(intent)  // applies the topology: the ledger knows node-1's key
        let revoked = try #require(fleet.nodes.first { $0.id == connected[0] })

        let revoke = try await fleet.benctl(["revoke", "\(revoked.id)", "--reason", "its disk was stolen"])
        #expect(revoke.status == 0, "\(revoke.stdout)\(revoke.stderr)")
        try await fleet.waitUntil(timeout: .seconds(60), "the running nodes of r2 take the revocation") {
            cut.filter { $0 != away }.allSatisfy { fleet.agentLog($0).contains("key revoked by the ledger") }
        }

        try await fleet.startAgent(away)
        try await Self.waitGossiping(fleet, [away])
        try await fleet.waitUntil(timeout: .seconds(60), "\(away) takes the revocation from a peer") {
            fleet.agentLog(away).contains("key revoked by the ledger")
        }
        let log = fleet.agentLog(away)
        #expect(!log.contains("following announcements"), "\(away) never reached NATS")
        #expect(log.contains("revocation by gossip"), "\(away) heard it from a peer:\n\(log.suffix(2000))")
        let kept = (try? String(contentsOfFile: fleet.directory.file("agents/\(away)/revocations.json"), encoding: .utf8)) ?? ""
        #expect(kept.contains(revoked.key.keyID), "\(away) keeps it in its state directory")
        let target = try #require(fleet.nodes.first { $0.id == away })
        let dialled = await Self.dial(fleet, target, as: revoked)
        #expect(dialled?.contains("revoked") == true, "\(away) refuses the revoked key's handshake: \(dialled ?? "let in")")
    }

    // MARK: 7. An abort reaches a prepared rack without NATS

    /// Rack r2 cannot reach NATS. Every node prepares v1 (`deploy --prepare`); the operator activates it with a barrier
    /// 20 s ahead, r2 takes the activation by gossip, and then the operator aborts the rollout. The ledger's signed
    /// alarm goes out on NATS and into gossip: r2 hears it from a peer, drops its prepared copy, and does not swap when
    /// the barrier comes. Without the alarm r2 would swap at the barrier (it holds the activation).
    @Test func anAbortReachesAPreparedRackCutOffFromNATSWhichThenDoesNotSwap() async throws {
        let (fleet, cut) = try await Self.runningWithRackCutOff()
        let v1 = try await fleet.stage(intent)
        let prepare = try await fleet.benctl(["deploy", "\(v1.rawValue)", "--prepare", "--wait", "--timeout", "60"])
        #expect(prepare.status == 0, "every node prepared: \(prepare.stdout)\(prepare.stderr)")
        let activate = try await fleet.benctl(["activate", "\(v1.rawValue)", "--barrier-in", "20s", "--json"])
        #expect(activate.status == 0, "\(activate.stdout)\(activate.stderr)")
        let barrier = try #require(try JSONParser.parse(activate.stdout)["barrier"]?.stringValue.flatMap { Timestamp(rfc3339: $0) })
        try await fleet.waitUntil(timeout: .seconds(15), "r2 takes the activation by gossip") {
            cut.allSatisfy { fleet.agentLog($0).contains("activation accepted") }
        }
        let abort = try await fleet.benctl(["rollout", "abort", "\(v1.rawValue)"])
        #expect(abort.status == 0, "\(abort.stdout)\(abort.stderr)")
        try await fleet.waitUntil(timeout: .seconds(15), "every node takes the alarm") {
            fleet.nodes.allSatisfy { fleet.agentLog($0.id).contains("alarm taken") }
        }
        // The barrier passes; each node's own clock is the system's here.
        try await fleet.waitUntil(timeout: .seconds(40), "the barrier and 3 s more pass") {
            Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) > barrier + .seconds(3)
        }
        for id in cut {
            let log = fleet.agentLog(id)
            #expect(!log.contains("following announcements"), "\(id) never reached NATS")
            #expect(log.contains("alarm by gossip"), "\(id) heard the alarm from a peer:\n\(log.suffix(2000))")
            #expect(log.contains("discarded=true"), "\(id) dropped its prepared copy")
        }
        for node in fleet.nodes {
            #expect(!fleet.agentLog(node.id).contains("swapped at the barrier"), "\(node.id) did not swap")
            #expect(fleet.agentState(node.id)?.active == Version.none, "\(node.id) runs no version")
        }
        #expect(try await fleet.status(v1).status == "aborted")

        // A node of r2 restarted (still without NATS, so no stream tells it again) keeps v1 stopped.
        let restarted = cut[0]
        let kept = (try? String(contentsOfFile: fleet.directory.file("agents/\(restarted)/alarms.json"), encoding: .utf8)) ?? ""
        #expect(kept.contains("\"version\":\(v1.rawValue)"), "\(restarted) keeps the alarm: \(kept)")
        await fleet.stopAgent(restarted)
        try await fleet.startAgent(restarted)
        try await Self.waitGossiping(fleet, [restarted], times: 2)
        let line = fleet.agentLog(restarted).split(separator: "\n").last { $0.contains("versions stopped by the ledger's alarms before this start") }
        #expect(line?.contains("versions=\(v1)") == true, "\(fleet.agentLog(restarted).suffix(1500))")
    }

    // MARK: Off

    /// `--gossip off` on the ledger and the agents: no gossip socket, and everything else as before.
    @Test func withGossipOffAFleetDeploysAsBeforeAndMembersSaysGossipIsOff() async throws {
        let fleet = try await LocalFleet(nodes: 2)
        fleet.agentArguments += ["--gossip", "off"]
        fleet.ledgerArguments += ["--gossip", "off"]
        try await fleet.startLedger()
        try await fleet.startAgents()
        try await fleet.waitUntilReady()
        let v1 = try await fleet.stage(intent)
        let deploy = try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "30"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        let members = try await fleet.benctl(["members"])
        #expect(members.status == 0 && members.stdout.contains("gossip is off at the ledger"), "\(members.stdout)\(members.stderr)")
        for node in fleet.nodes {
            #expect(!fleet.agentLog(node.id).contains("gossip listening"))
            #expect(fleet.agents[node.id]?.isRunning == true, "\(node.id) keeps running with gossip off")
        }
        #expect(fleet.ledger?.isRunning == true)
    }
}
