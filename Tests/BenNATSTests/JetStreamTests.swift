import BenCore
import BenNATS
import BenTestKit
import Testing

@Suite struct JetStreamTests {
    static func config(_ name: String = "BEN_TEST") -> JetStream.StreamConfig {
        var config = JetStream.StreamConfig(name: name, subjects: ["ben.test.js.>"])
        config.maxMessagesPerSubject = 5
        return config
    }

    @Test func createOrUpdateCreatesThenIsIdempotentThenUpdates() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()

        let created = try await js.createOrUpdateStream(Self.config())
        let again = try await js.createOrUpdateStream(Self.config())
        for i in 0..<3 { _ = try await js.publish([UInt8]("a\(i)"), subject: "ben.test.js.a") }
        var tighter = Self.config()
        tighter.maxMessagesPerSubject = 1
        tighter.description = "only the latest"
        let updated = try await js.createOrUpdateStream(tighter)

        #expect(created.config.name == "BEN_TEST")
        #expect(created.config.subjects == ["ben.test.js.>"])
        #expect(created.config.storage == .file)
        #expect(created.config.maxMessagesPerSubject == 5)
        #expect(again.config == created.config)
        #expect(updated.config.maxMessagesPerSubject == 1)
        #expect(updated.config.description == "only the latest")
        // The new limit applies to what is already stored.
        #expect(updated.messages == 1)
        #expect(try await js.streamInfo("BEN_TEST")?.config.maxMessagesPerSubject == 1)
        #expect(try await js.streamInfo("NO_SUCH_STREAM") == nil)
    }

    @Test func publishReturnsTheStreamAndSequenceAndDeduplicatesByMessageID() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        try await js.createOrUpdateStream(Self.config())

        let acks = try await (0..<3).asyncMap { i in
            try await js.publish([UInt8]("m\(i)"), subject: "ben.test.js.m", headers: ["Ben-Index": "\(i)"])
        }
        var options = JetStream.PublishOptions()
        options.messageID = "announce-v4"
        let first = try await js.publish([UInt8]("v4"), subject: "ben.test.js.v", options: options)
        let repeated = try await js.publish([UInt8]("v4"), subject: "ben.test.js.v", options: options)

        #expect(acks.map(\.stream) == ["BEN_TEST", "BEN_TEST", "BEN_TEST"])
        #expect(acks.map(\.sequence) == [1, 2, 3])
        #expect(acks.allSatisfy { !$0.duplicate })
        #expect(first.sequence == 4 && !first.duplicate)
        #expect(repeated.sequence == 4 && repeated.duplicate)
        let stored = try #require(try await js.message(stream: "BEN_TEST", sequence: 2))
        #expect(stored.subject == "ben.test.js.m" && stored.text == "m1" && stored.headers["Ben-Index"] == "1")
        #expect(stored.timeNanoseconds > 0)
        #expect(try await js.message(stream: "BEN_TEST", sequence: 99) == nil)
    }

    @Test func lastMessagePerSubjectIsTheLatestOrNil() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        try await js.createOrUpdateStream(Self.config())
        for (subject, text) in [("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a3"), ("b", "b2")] {
            _ = try await js.publish([UInt8](text), subject: "ben.test.js.\(subject)")
        }

        let a = try await js.lastMessage(stream: "BEN_TEST", subject: "ben.test.js.a")
        let b = try await js.lastMessage(stream: "BEN_TEST", subject: "ben.test.js.b")
        let none = try await js.lastMessage(stream: "BEN_TEST", subject: "ben.test.js.c")

        #expect(a?.text == "a3" && a?.sequence == 4)
        #expect(b?.text == "b2" && b?.sequence == 5)
        #expect(none == nil)
    }

    @Test func theFleetAnnouncementStreamKeepsTheLatest64AndReadsThemBackOldestFirst() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        let fleet = try #require(FleetName("demo"))
        let stream = NATSSubjects.announceStream(fleet)
        try await js.createOrUpdateStream(NATSSubjects.announceStreamConfig(fleet))
        #expect(try await js.messages(stream: stream, subject: "ben.demo.announce", limit: 64).isEmpty, "an empty stream")

        for version in 1...70 {
            var options = JetStream.PublishOptions()
            options.messageID = "demo-announce-v\(version)"
            _ = try await js.publish([UInt8]("{\"version\":\(version)}"), subject: NATSSubjects.announce(fleet), options: options)
        }
        let latest = try await js.lastMessage(stream: stream, subject: "ben.demo.announce")
        let info = try #require(try await js.streamInfo("BEN_demo_ANNOUNCE"))
        let history = try await js.messages(stream: stream, subject: "ben.demo.announce", limit: NATSSubjects.announceHistory)
        let lastFive = try await js.messages(stream: stream, subject: "ben.demo.announce", limit: 5)

        #expect(latest?.text == "{\"version\":70}")
        #expect(info.messages == 64)
        #expect(info.firstSequence == 7 && info.lastSequence == 70)
        #expect(history.map(\.text) == (7...70).map { "{\"version\":\($0)}" }, "the newest 64, oldest first")
        #expect(history.map(\.sequence) == Array(7...70))
        #expect(lastFive.map(\.sequence) == Array(66...70))
    }

    @Test func anAnnouncementStreamCreatedKeepingOneIsUpdatedInPlaceAndApplyingItAgainChangesNothing() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        let fleet = try #require(FleetName("demo"))
        let stream = NATSSubjects.announceStream(fleet)
        // The stream as ledgers before issue 15 created it: the last message only.
        var old = NATSSubjects.announceStreamConfig(fleet)
        old.maxMessagesPerSubject = 1
        old.description = "Ben announcements for fleet demo: the latest one is kept"
        try await js.createOrUpdateStream(old)
        for version in 1...3 { _ = try await js.publish([UInt8]("v\(version)"), subject: "ben.demo.announce") }

        let updated = try await js.createOrUpdateStream(NATSSubjects.announceStreamConfig(fleet))
        for version in 4...5 { _ = try await js.publish([UInt8]("v\(version)"), subject: "ben.demo.announce") }
        let again = try await js.createOrUpdateStream(NATSSubjects.announceStreamConfig(fleet))
        let history = try await js.messages(stream: stream, subject: "ben.demo.announce", limit: 64)

        #expect(updated.config.maxMessagesPerSubject == 64)
        #expect(updated.messages == 1, "what the old stream kept is still there")
        #expect(history.map(\.text) == ["v3", "v4", "v5"], "from the update on, the history is kept")
        #expect(again.config == updated.config)
        #expect(again.messages == 3, "applying the configuration again removes nothing")
    }

    @Test func readingTheHistoryOfAMissingStreamSaysStreamNotFound() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()

        let missing = await #expect(throws: NATSError.self) {
            try await js.messages(stream: "NO_SUCH_STREAM", subject: "ben.test.js.x", limit: 64)
        }

        #expect(missing?.jetStreamCode == 10059)
        #expect(missing?.description.contains("stream NO_SUCH_STREAM") == true, "\(String(describing: missing))")
        #expect(missing?.description.contains("stream not found") == true, "\(String(describing: missing))")
    }

    @Test func jetStreamErrorsCarryTheServerText() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        try await js.createOrUpdateStream(Self.config())
        _ = try await js.publish([UInt8]("first"), subject: "ben.test.js.x")

        let missing = await #expect(throws: NATSError.self) {
            try await js.lastMessage(stream: "NO_SUCH_STREAM", subject: "ben.test.js.x")
        }
        var stale = JetStream.PublishOptions()
        stale.expectedLastSubjectSequence = 7
        let conflict = await #expect(throws: NATSError.self) {
            try await js.publish([UInt8]("second"), subject: "ben.test.js.x", options: stale)
        }
        var memory = Self.config()
        memory.storage = .memory
        let immutable = await #expect(throws: NATSError.self) { try await js.createOrUpdateStream(memory) }

        #expect(missing?.code == .jetStream)
        #expect(missing?.jetStreamCode == 10059)
        #expect(missing?.detail == "stream not found")  // the server's words, without libnats's source location
        #expect(conflict?.code == .jetStream)
        #expect(conflict?.jetStreamCode == 10071)
        #expect(conflict?.description.contains("wrong last sequence") == true)
        #expect(conflict?.description.contains("publish to ben.test.js.x") == true)
        #expect(immutable?.code == .jetStream)
        #expect(immutable?.description.contains("update stream BEN_TEST") == true)
    }

    @Test func publishingWhereNoStreamListensFailsAtOnceWithNoResponders() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()

        let error = await #expect(throws: NATSError.self) {
            try await js.publish([UInt8]("lost"), subject: "ben.test.nostream")
        }

        #expect(error?.code == .noResponders, "\(String(describing: error))")
        #expect(error?.description.contains("no JetStream stream captures ben.test.nostream") == true)
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
