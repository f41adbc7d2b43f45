import BenNATS
import BenTestKit
import Logging
import Testing

@Suite struct ConnectionTests {
    @Test func connectingWhereNoServerListensFailsWithNATSText() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let url = server.url
        try await server.stop()

        let error = await #expect(throws: NATSError.self) { try await connect(url) }

        #expect(error?.code == .noServer)
        #expect(error?.statusText == "No server available for connection")
        #expect(error?.description.contains("connect to \(url)") == true)
    }

    @Test func retryInitialConnectWaitsForTheServerToComeUp() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let url = server.url
        try await server.stop()

        let connecting = Task { try await connect(url) { $0.reconnect.retryInitialConnect = true } }
        try await server.start()
        let connection = try await within("the retried connect") { try await connecting.value }

        #expect(connection.status == .connected)
        #expect(connection.connectedURL == url)
    }

    @Test func connectingToSeveralServersUsesOneThatAnswers() async throws {
        let down = try await NATSServer.start(jetStream: false)
        let downURL = down.url
        try await down.stop()
        let up = try await NATSServer.start(jetStream: false)

        var settings = NATSSettings()
        settings.reconnect.initialDelay = .milliseconds(10)
        var quiet = Logger(label: "ben.nats.tests")
        quiet.logLevel = .critical
        let connection = try await NATSConnection.connect(to: [downURL, up.url], settings: settings, logger: quiet)

        #expect(connection.connectedURL == up.url)
        #expect(connection.servers == [downURL, up.url])
    }

    @Test func invalidSubjectsAreRefusedWithNATSText() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)

        let publish = await #expect(throws: NATSError.self) { try await connection.publish([], subject: "") }
        let subscribe = await #expect(throws: NATSError.self) {
            try await connection.subscribe(subject: "ben..bad")
        }

        #expect(publish?.code == .invalidArgument)
        #expect(publish?.statusText == "Invalid Subject")
        #expect(subscribe?.code == .invalidArgument)
        #expect(subscribe?.description.contains("subscribe to ben..bad") == true)
    }

    @Test func closeIsIdempotentAndEndsEventStreams() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let events = connection.events()

        await connection.close()
        await connection.close()
        let late = connection.events()

        // Closing a connected connection drops it (disconnected), then closes it, once.
        #expect(try await BenNATSTests.events(events) { $0 == .closed } == [.disconnected, .closed])
        #expect(try await BenNATSTests.events(late) { $0 == .closed } == [.closed])
        await #expect(throws: NATSError.self) { try await connection.flush() }
    }

    @Test(arguments: [(1, 100), (2, 200), (3, 400), (5, 1600), (6, 2000), (40, 2000)])
    func reconnectBackoffGrowsThenCaps(round: Int, milliseconds: Int64) {
        var reconnect = NATSSettings.Reconnect()
        reconnect.initialDelay = .milliseconds(100)
        reconnect.maxDelay = .seconds(2)
        #expect(reconnect.delay(beforeRound: round) == .milliseconds(milliseconds))
    }

    @Test func reconnectJitterStaysWithinItsSpread() {
        var reconnect = NATSSettings.Reconnect()
        reconnect.jitter = 0.2
        var generator = SeededGenerator(seed: 42)
        for round in 1...10 {
            let base =
                Double(reconnect.delay(beforeRound: round).components.attoseconds) / 1e15
                + Double(reconnect.delay(beforeRound: round).components.seconds) * 1000
            let jittered = reconnect.jitteredDelay(beforeRound: round, using: &generator)
            let ms = Double(jittered.components.seconds) * 1000 + Double(jittered.components.attoseconds) / 1e15
            #expect(ms >= base * 0.8 - 1 && ms <= base * 1.2 + 1, "round \(round) (seed 42)")
        }
    }
}
