import BenNATS
import BenTestKit
import Testing

@Suite struct RequestReplyTests {
    @Test func requestGetsTheResponderAnswerWithHeadersBothWays() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let ledger = try await connect(server.url)
        let benctl = try await connect(server.url)
        let api = try await ledger.subscribe(subject: "ben.demo.api.>")
        let responder = serve(api) { request in
            let verb = request.subject.split(separator: ".").last.map(String.init) ?? ""
            return (
                [UInt8]("\(verb): \(request.text)"),
                ["Ben-Verb": verb, "Ben-Operator": request.headers["Ben-Operator"] ?? "-"]
            )
        }
        try await ledger.flush()

        let answer = try await benctl.request(
            [UInt8]("v7"), subject: "ben.demo.api.status", headers: ["Ben-Operator": "op-1"], timeout: .seconds(5))
        let plain = try await benctl.request([UInt8]("all"), subject: "ben.demo.api.versions")

        #expect(answer.text == "status: v7")
        #expect(answer.headers["Ben-Verb"] == "status")
        #expect(answer.headers["Ben-Operator"] == "op-1")
        #expect(plain.text == "versions: all")
        responder.cancel()
    }

    @Test func manyConcurrentRequestsEachGetTheirOwnAnswer() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let responder = serve(try await connection.subscribe(subject: "ben.test.echo")) { ($0.payload, nil) }
        try await connection.flush()

        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<50 {
                group.addTask { (i, try await connection.request([UInt8]("\(i)"), subject: "ben.test.echo").text) }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }

        #expect(answers == Dictionary(uniqueKeysWithValues: (0..<50).map { ($0, "\($0)") }))
        responder.cancel()
    }

    @Test func aRequestNobodyAnswersTimesOutAndSaysSo() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        // Subscribed, so the server has a responder, but it never answers.
        let silent = try await connection.subscribe(subject: "ben.demo.api.slow")
        try await connection.flush()

        let error = await #expect(throws: NATSError.self) {
            try await connection.request([UInt8]("?"), subject: "ben.demo.api.slow", timeout: .milliseconds(200))
        }

        #expect(error?.code == .timeout)
        #expect(error?.statusText == "Timeout")  // libnats's own text for NATS_TIMEOUT
        #expect(error?.description.contains("request to ben.demo.api.slow") == true)
        #expect(error?.description.contains("200 ms") == true)
        #expect(error?.description.contains("no answer arrived in time") == true)
        #expect(silent.subject == "ben.demo.api.slow")
    }

    @Test func aRequestToASubjectWithNoSubscriberFailsWithNoResponders() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)

        let error = await #expect(throws: NATSError.self) {
            try await connection.request([], subject: "ben.demo.api.nobody", timeout: .seconds(5))
        }

        #expect(error?.code == .noResponders)
        #expect(error?.statusText == "No responders available for request")
        #expect(error?.description.contains("ben.demo.api.nobody") == true)
    }

    @Test func respondingToAPlainPublishIsRefused() async throws {
        let server = try await NATSServer.start(jetStream: false)
        let connection = try await connect(server.url)
        let subscription = try await connection.subscribe(subject: "ben.test.plain")
        try await connection.flush()
        try await connection.publish([UInt8]("not a request"), subject: "ben.test.plain")
        let message = try #require(try await receive(1, from: subscription).first)

        let error = await #expect(throws: NATSError.self) { try await message.respond([UInt8]("answer")) }

        #expect(error?.code == .invalidArgument)
        #expect(error?.description.contains("no reply subject") == true)
    }
}
