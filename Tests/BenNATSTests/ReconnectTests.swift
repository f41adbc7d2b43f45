import BenNATS
import BenTestKit
import Testing

/// The server goes away and comes back on the same port with the same store, as in a rolling restart.
@Suite struct ReconnectTests {
    static func announceStream() -> JetStream.StreamConfig {
        var config = JetStream.StreamConfig(name: "BEN_RESTART", subjects: ["ben.restart.>"])
        config.maxMessagesPerSubject = 100
        return config
    }

    @Test func noAcknowledgedMessageIsLostAcrossAServerRestart() async throws {
        let server = try await NATSServer.start()
        let connection = try await connect(server.url)
        let events = connection.events()
        let js = try connection.jetStream()
        try await js.createOrUpdateStream(Self.announceStream())

        var acknowledged: [(sequence: UInt64, subject: String, text: String)] = []
        for i in 0..<20 {
            let subject = "ben.restart.fleet\(i % 4)"
            let ack = try await js.publish([UInt8]("before \(i)"), subject: subject)
            acknowledged.append((ack.sequence, subject, "before \(i)"))
        }

        try await server.restart()
        let seen = try await BenNATSTests.events(events) { $0.isReconnected }
        #expect(seen.contains(.disconnected))
        #expect(seen.last?.isReconnected == true)

        for i in 0..<20 {
            let subject = "ben.restart.fleet\(i % 4)"
            let ack = try await js.publish([UInt8]("after \(i)"), subject: subject)
            acknowledged.append((ack.sequence, subject, "after \(i)"))
        }

        // Every acknowledged message is stored, at the sequence its acknowledgement gave.
        #expect(acknowledged.map(\.sequence) == Array(1...40))
        for (sequence, subject, text) in acknowledged {
            let stored = try await js.message(stream: "BEN_RESTART", sequence: sequence)
            #expect(stored?.subject == subject && stored?.text == text, "sequence \(sequence)")
        }
        for fleet in 0..<4 {
            let last = try await js.lastMessage(stream: "BEN_RESTART", subject: "ben.restart.fleet\(fleet)")
            #expect(last?.text == "after \(16 + fleet)")
        }
        #expect(try await js.streamInfo("BEN_RESTART")?.messages == 40)
        #expect(connection.status == .connected)
    }

    @Test func aPublishDuringAnOutageIsStoredOnceWhenTheServerReturns() async throws {
        let server = try await NATSServer.start()
        let connection = try await connect(server.url)
        let events = connection.events()
        let js = try connection.jetStream()
        try await js.createOrUpdateStream(Self.announceStream())
        _ = try await js.publish([UInt8]("v1"), subject: "ben.restart.demo")

        try await server.stop()
        _ = try await BenNATSTests.events(events) { $0 == .disconnected }
        let publish = Task { try await js.publish([UInt8]("v2"), subject: "ben.restart.demo") }
        try await server.start()
        let ack = try await within("the publish made during the outage") { try await publish.value }

        #expect(ack.stream == "BEN_RESTART")
        #expect(ack.sequence == 2)
        #expect(try await js.lastMessage(stream: "BEN_RESTART", subject: "ben.restart.demo")?.text == "v2")
        #expect(try await js.streamInfo("BEN_RESTART")?.messages == 2)
    }

    @Test func subscribersKeepReceivingAfterTheServerRestarts() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let ledger = try await connect(server.url)
        let events = ledger.events()
        let heartbeats = try await ledger.subscribe(subject: "ben.demo.heartbeat")
        let api = try await ledger.subscribe(subject: "ben.demo.api.status")
        let responder = serve(api) { _ in ([UInt8]("ok"), nil) }
        try await ledger.flush()

        let before = try await connect(server.url)
        try await before.publish([UInt8]("n1 v1"), subject: "ben.demo.heartbeat")
        #expect(try await receive(1, from: heartbeats).map(\.text) == ["n1 v1"])

        try await server.restart()
        _ = try await BenNATSTests.events(events) { $0.isReconnected }
        try await ledger.flush()  // the server has the re-sent subscriptions before anyone publishes

        // A node that connects after the restart reaches the same subscriptions.
        let after = try await connect(server.url)
        try await after.publish([UInt8]("n1 v2"), subject: "ben.demo.heartbeat")
        #expect(try await receive(1, from: heartbeats).map(\.text) == ["n1 v2"])
        #expect(try await after.request([], subject: "ben.demo.api.status").text == "ok")
        responder.cancel()
    }

    @Test func reconnectGivesUpAfterItsAttemptsAndCallsThenSayTheConnectionIsClosed() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url) { $0.reconnect.maxAttempts = 2 }
        let events = connection.events()
        let subscription = try await connection.subscribe(subject: "ben.test.gone")

        server.kill()
        let seen = try await BenNATSTests.events(events) { $0 == .closed }
        let ended = try await within("the subscription to end") {
            var count = 0
            for await _ in subscription { count += 1 }
            return count
        }
        let error = await #expect(throws: NATSError.self) {
            try await connection.publish([UInt8]("late"), subject: "ben.test.gone")
        }

        #expect(seen == [.disconnected, .closed])
        #expect(ended == 0)
        #expect(connection.status == .closed)
        #expect(error?.code == .connectionClosed)
        #expect(error?.statusText == "Connection Closed")
        #expect(error?.description.contains("publish to ben.test.gone") == true)
    }
}
