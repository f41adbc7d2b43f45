import BenCore
import BenTestKit
import Foundation
import NIOCore
import NIOPosix
import Testing

/// A live ben-agent's peer port under abuse: garbage, oversize messages, truncated streams and a peer that
/// trickles its handshake close the link with a logged reason; the process keeps serving.
@Suite(.serialized) struct LiveLinkTests {
    func connect(_ port: Int) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    }

    @Test func randomBytesAtALiveAgentsPortNeverCrashIt() async throws {
        let fleet = try await LocalFleet(nodes: 1)
        try await fleet.startAgents()
        let node = fleet.nodes[0]
        try await fleet.waitUntil(timeout: .seconds(20), "the agent listens") { fleet.agentLog(node.id).contains("listening for peer links") }
        var generator = SeededGenerator(seed: 2026)
        for round in 0..<40 {
            let channel = try await connect(node.port)
            var bytes = generator.bytes(16 + Int(generator.next() % 4096))
            if round % 4 == 0 {
                // A frame header that claims far more than any limit.
                bytes = [0x7F, 0xFF, 0xFF, 0xFF, 4] + bytes
            } else if round % 4 == 1 {
                // A plausible HELLO header, then the stream just ends (truncated).
                bytes = [0, 0, 1, 0, 1, 4] + Array("test".utf8) + bytes.prefix(20)
            }
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
            try? await channel.close().get()
        }
        // Every garbage link ends with a logged reason; wait for those rather than for a while.
        try await fleet.waitUntil(timeout: .seconds(20), "the agent closed the garbage links") {
            fleet.agentLog(node.id).components(separatedBy: "closing peer link").count > 20
        }
        #expect(fleet.agents[node.id]?.isRunning == true, "the agent survived 40 rounds of garbage")
        let log = fleet.agentLog(node.id)
        #expect(log.contains("closing peer link"), "links were closed with a logged reason")
        #expect(log.contains("over the") || log.contains("unknown frame kind"))
        #expect(!log.contains("Fatal error"))
        // And it still works: a deployment to it succeeds.
        try await fleet.startLedger()
        let v1 = try await fleet.stage(ProcessRunner.repositoryRoot() + "/examples/intent")
        #expect(try await fleet.benctl(["deploy", "\(v1.rawValue)", "--wait", "--timeout", "30"]).status == 0)
    }

    @Test func aPeerTricklingItsHandshakeIsDroppedAtTheDeadline() async throws {
        let fleet = try await LocalFleet(nodes: 1)
        try await fleet.startAgents()
        let node = fleet.nodes[0]
        try await fleet.waitUntil(timeout: .seconds(20), "the agent listens") { fleet.agentLog(node.id).contains("listening for peer links") }
        let channel = try await connect(node.port)
        // A 1 000-byte handshake message, one byte every 300 ms: it cannot finish within the handshake's 10 s.
        var frame: [UInt8] = [0, 0, 3, 0xE8, 3]
        frame += [UInt8](repeating: 0x41, count: 1000)
        var closed = false
        for byte in frame.prefix(40) {
            do {
                try await channel.writeAndFlush(ByteBuffer(bytes: [byte])).get()
            } catch {
                closed = true
                break
            }
            try await Task.sleep(for: .milliseconds(300))  // the trickle itself: the situation under test
            if !channel.isActive {
                closed = true
                break
            }
        }
        #expect(closed, "the agent dropped the trickling peer")
        #expect(fleet.agentLog(node.id).contains("the handshake did not finish within 10 s"))
        #expect(fleet.agents[node.id]?.isRunning == true)
    }
}
