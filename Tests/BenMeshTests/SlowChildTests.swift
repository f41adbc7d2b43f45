import BenCore
import BenCrypto
import BenPeerLink
import BenShell
import BenProtocol
import BenTestKit
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

/// A slow child never stalls its siblings and never grows its relay's memory (issue 6): one child reads at
/// 1/100 of the fleet's speed; its siblings finish anyway, and the relay's resident memory stays flat because
/// it queues chunk numbers and reads each chunk from disk when the child can take it.
@Suite(.serialized) struct SlowChildTests {
    @Test func aChildAtOneHundredthOfTheSpeedStallsNeitherItsSiblingsNorItsRelaysMemory() async throws {
        let fleet = try await LocalFleet(nodes: 9, rackSize: 9)
        // Every upload capped at 80 Mbit/s (10 MB/s), so speeds are comparable on loopback.
        fleet.agentArguments += ["--upload-limit", "80Mbit"]
        fleet.ledgerArguments += ["--upload-limit", "80Mbit"]
        try await fleet.startLedger()
        let repository = ProcessRunner.repositoryRoot()
        let folder = try TemporaryDirectory()
        _ = try await BundleMaker.bundle(intent: repository + "/examples/intent", folder: folder.file("bundle"), payloadBytes: 128 << 20)
        let v1 = try await fleet.stage(folder.file("bundle"))
        let size = try #require(JSONParser.parse(try await fleet.benctl(["versions", "--json"]).stdout)["versions"]?.arrayValue?.first?["size"]?.intValue)

        // The plan the ledger will make: a relay (not the ledger) with at least two children in some stripe.
        let planned = try await fleet.benctl(["topology", "plan", fleet.topologyPath, "--seed", "\(v1.rawValue)", "--size", "\(size)", "--json"])
        let plan = try Plan(json: try #require(try JSONParser.parse(planned.stdout)["plan"]))
        var choice: (relay: Int, slow: Int)?
        for s in 0..<plan.stripeCount where choice == nil {
            let children = plan.children(stripe: s)
            if let relay = (0..<plan.nodes.count).first(where: { children[$0].count >= 2 }) {
                choice = (relay, Int(children[relay].last!))
            }
        }
        let (relayIndex, slowIndex) = try #require(choice, "the plan has a relay with two children")
        let relay = plan.nodes[relayIndex].id
        let slow = plan.nodes[slowIndex]

        // 80 Mbit/s ÷ 100: one 1 MiB chunk every 10.5 s.
        let child = try await SlowChild.start(
            node: slow, key: try #require(fleet.nodes.first { $0.id == slow.id }?.key), fleet: fleet.fleet, ledgerKey: fleet.ledgerKey.publicKey,
            secondsPerChunk: 10.5)
        try await fleet.startAgents(fleet.nodes.map(\.id).filter { $0 != slow.id })
        try await fleet.waitUntilReady(fleet.nodes.map(\.id).filter { $0 != slow.id })
        let pid = try #require(fleet.agents[relay]?.pid)
        let before = try #require(ResidentMemory.of(pid))

        let deploy = try await fleet.benctlInBackground(["deploy", "\(v1.rawValue)", "--timeout", "120"])
        #expect(deploy.status == 0)
        var peak = before
        let others = fleet.nodes.map(\.id).filter { $0 != slow.id }
        try await fleet.waitUntil(timeout: .seconds(60), "every other node activates") {
            peak = max(peak, ResidentMemory.of(pid) ?? 0)
            return others.allSatisfy { fleet.agentState($0)?.active == v1 }
        }
        let received = child.chunksReceived
        print("relay \(relay): resident memory \(before / 1024) KiB before, peak \(peak / 1024) KiB while serving a 1/100-speed child; "
            + "the slow child had \(received) of \(Int(size >> 20)) chunks when its \(others.count) siblings were all active")
        #expect(received > 0, "the slow child was fed (it proved its key and was taken as a child)")
        #expect(received < Int(size >> 20) / 4, "the slow child really was slow")
        // The relay held chunk numbers, not chunks: its memory grew by its chunk cache (16 MiB, FrameMaterializer),
        // the buffers in flight and what the allocator keeps for reuse (ProcessMemory.reuseChunkBuffers: about 40 MiB,
        // the same for a 48 or a 128 MiB bundle), not by anything like the 128 MiB bundle the slow child still lacked.
        #expect(peak - before < 96 << 20, "resident memory grew by \((peak - before) >> 20) MiB for a 128 MiB bundle")
        await child.stop()
    }
}

/// A child that accepts its parent's push and then reads one chunk every `secondsPerChunk` (TCP back-pressure
/// does the rest).
final class SlowChild: Sendable {
    private let listener: NIOAsyncChannel<PeerChannel, Never>
    private let running = Mutex<Task<Void, Never>?>(nil)
    private let received = Atomic<Int>(0)
    let node: PlanNode
    let secondsPerChunk: Double

    var chunksReceived: Int { received.load(ordering: .relaxed) }

    private init(node: PlanNode, secondsPerChunk: Double, listener: NIOAsyncChannel<PeerChannel, Never>) {
        self.node = node
        self.secondsPerChunk = secondsPerChunk
        self.listener = listener
    }

    /// It holds the node's key and proves it, as the node would.
    static func start(node: PlanNode, key: SigningKey, fleet: FleetName, ledgerKey: PublicKey, secondsPerChunk: Double) async throws -> SlowChild {
        let settings = PeerLinkSettings(security: LinkSecurity(fleet: fleet, node: node.id, key: key, ledgerKeys: TrustedKeys([ledgerKey])))
        settings.chunkFrames.allow(chunkBytes: 1 << 20)
        let listener = try await PeerLink.listen(host: node.address.host, port: node.address.port, settings: settings, logger: Logger(label: "slow"))
        let child = SlowChild(node: node, secondsPerChunk: secondsPerChunk, listener: listener)
        let task = Task { await child.serve() }
        child.running.withLock { $0 = task }
        return child
    }

    func stop() async {
        let task = running.withLock { $0 }
        task?.cancel()
        await task?.value
    }

    private func serve() async {
        let tasks = ShellTasks()
        await withDiscardingTaskGroup { group in
            group.addTask { await tasks.run() }
            try? await PeerLink.acceptLinks(on: listener) { link in
                tasks.spawn {
                    try? await link.take()?.executeThenClose { frames, out in
                        for try await frame in frames {
                            switch frame {
                            case .hello(let hello):
                                try await out.write(.hello(Hello(header: hello.header, purpose: .accept, node: self.node.id)))
                            case .chunk:
                                self.received.add(1, ordering: .relaxed)
                                // A deliberately slow child: the situation under test.
                                try await Task.sleep(for: .milliseconds(Int64(self.secondsPerChunk * 1000)))
                            default:
                                break
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Resident memory of a process, from /proc.
enum ResidentMemory {
    static func of(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }
}
