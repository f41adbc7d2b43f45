import BenNATS
import BenTestKit
import Testing

@Suite struct PublishSubscribeTests {
    @Test func publishedMessagesArriveInOrderWithTheirHeaders() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let subscriber = try await connect(server.url)
        let publisher = try await connect(server.url)
        let subscription = try await subscriber.subscribe(subject: "ben.test.heartbeat")
        try await subscriber.flush()  // the server knows the interest before anyone publishes

        for i in 0..<10 {
            try await publisher.publish(
                [UInt8]("beat \(i)"), subject: "ben.test.heartbeat", headers: ["Ben-Node": "n\(i)"])
        }
        let messages = try await receive(10, from: subscription)

        #expect(messages.map(\.text) == (0..<10).map { "beat \($0)" })
        #expect(messages.map { $0.headers["Ben-Node"] } == (0..<10).map { "n\($0)" })
        #expect(messages.allSatisfy { $0.subject == "ben.test.heartbeat" && $0.reply == nil })
    }

    @Test func wildcardSubscriptionReceivesEverySubjectBelowIt() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let subscription = try await connection.subscribe(subject: "ben.demo.api.>")
        try await connection.flush()

        try await connection.publish([UInt8]("a"), subject: "ben.demo.api.status")
        try await connection.publish([UInt8]("b"), subject: "ben.demo.api.deploy")
        try await connection.publish([UInt8]("c"), subject: "ben.other.api.status")  // not below the wildcard
        try await connection.publish([UInt8]("d"), subject: "ben.demo.api.log")
        let messages = try await receive(3, from: subscription)

        #expect(messages.map(\.subject) == ["ben.demo.api.status", "ben.demo.api.deploy", "ben.demo.api.log"])
    }

    @Test func eachMessageGoesToOneMemberOfAQueueGroup() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let members = [
            try await connection.subscribe(subject: "ben.test.work", queue: "ledgers"),
            try await connection.subscribe(subject: "ben.test.work", queue: "ledgers"),
        ]
        let merged = AsyncStream<String>.makeStream()
        let forwarders = members.map { member in
            Task { for await message in member { merged.continuation.yield(message.text) } }
        }
        try await connection.flush()

        for i in 0..<20 { try await connection.publish([UInt8]("job \(i)"), subject: "ben.test.work") }
        let received = try await within("20 jobs") {
            var jobs: [String] = []
            for await job in merged.stream {
                jobs.append(job)
                if jobs.count == 20 { break }
            }
            return jobs
        }

        #expect(Set(received) == Set((0..<20).map { "job \($0)" }))
        for forwarder in forwarders { forwarder.cancel() }
    }

    @Test func cancellingTheIteratingTaskUnsubscribes() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let subscription = try await connection.subscribe(subject: "ben.test.svc")
        let responder = serve(subscription) { _ in ([UInt8]("here"), nil) }
        try await connection.flush()
        #expect(try await connection.request([], subject: "ben.test.svc").text == "here")

        responder.cancel()
        await responder.value
        try await connection.flush()  // the server has processed the UNSUB

        // With no subscriber left, the server answers "no responders" at once.
        await #expect {
            try await connection.request([], subject: "ben.test.svc")
        } throws: { error in
            (error as? NATSError)?.code == .noResponders
        }
    }

    @Test func droppingTheSubscriptionUnsubscribes() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        do {
            let subscription = try await connection.subscribe(subject: "ben.test.dropped")
            #expect(subscription.subject == "ben.test.dropped")
        }
        try await connection.flush()

        await #expect {
            try await connection.request([], subject: "ben.test.dropped", timeout: .seconds(5))
        } throws: { error in
            (error as? NATSError)?.code == .noResponders
        }
    }

    @Test func drainLetsSubscribersFinishThenClosesEverything() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let events = connection.events()
        let subscription = try await connection.subscribe(subject: "ben.test.drain")
        try await connection.flush()
        for i in 0..<5 { try await connection.publish([UInt8]("m\(i)"), subject: "ben.test.drain") }
        try await connection.flush()

        try await connection.drain()
        // Every message that had arrived is still delivered, then the sequence ends.
        let delivered = try await within("the drained subscription to end") {
            var texts: [String] = []
            for await message in subscription { texts.append(message.text) }
            return texts
        }

        #expect(delivered == (0..<5).map { "m\($0)" })
        #expect(connection.status == .closed)
        #expect(try await BenNATSTests.events(events) { $0 == .closed }.last == .closed)
    }
}
