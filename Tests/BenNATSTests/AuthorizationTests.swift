import BenCore
import BenCrypto
import BenNATS
import BenTestKit
import Foundation
import Testing

/// Ben's NATS authorization (`NATSAuthorization`) run by a real nats-server: nkey users, one per identity, each held
/// to its permissions by the server itself, whatever the client sends.
@Suite struct AuthorizationTests {
    static let fleet = FleetName("auth")!

    /// A server running the authorization of a fleet of two nodes (one with a dot in its id), the ledger and one
    /// operator, and each identity's credentials file.
    final class Fixture: Sendable {
        let folder: TemporaryDirectory
        let server: NATSServer
        let authorization: NATSAuthorization

        init() async throws {
            folder = try TemporaryDirectory(prefix: "ben-nats-auth")
            var keys: [String: String] = [:]
            for name in ["ledger", "node-a", "rack.node-b", "operator"] {
                let key = SigningKey.generate()
                keys[name] = NKey.publicKey(key.publicKey)
                let path = folder.file("\(name).creds")
                try NATSCredentials.fileText(about: name, publicKey: keys[name]!, seed: NKey.seed(key))
                    .write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o600)
            }
            authorization = NATSAuthorization(
                fleet: AuthorizationTests.fleet, ledger: keys["ledger"]!,
                nodes: [(NodeID(stringLiteral: "node-a"), keys["node-a"]!), (NodeID(stringLiteral: "rack.node-b"), keys["rack.node-b"]!)],
                operators: [("operator", keys["operator"]!)])
            server = try await NATSServer.start(configuration: authorization.serverConfiguration())
        }

        func connect(_ name: String?) async throws(NATSError) -> NATSConnection {
            var settings = NATSSettings()
            settings.credentialsFile = name.map { folder.file("\($0).creds") }
            settings.reconnect.maxAttempts = 1
            return try await NATSConnection.connect(to: server.url, settings: settings)
        }
    }

    /// The first error event whose text contains `text`, or nil after `limit`.
    static func violation(_ events: AsyncStream<NATSConnectionEvent>, containing text: String) async -> NATSError? {
        try? await within("a permissions violation naming \(text)", limit: .seconds(10)) {
            for await event in events {
                if case .error(let error) = event, error.description.contains(text) { return error }
            }
            throw Overdue(what: text)
        }
    }

    @Test func anAgentsCredentialsCannotPublishAnAnnouncementAndTheLedgersCan() async throws {
        let fixture = try await Fixture()
        let subject = NATSSubjects.announce(Self.fleet)
        let listener = try await fixture.connect("node-a")
        let announcements = try await listener.subscribe(subject: subject)
        try await listener.flush()

        let agent = try await fixture.connect("rack.node-b")
        let agentEvents = agent.events()
        try await agent.publish(Array("forged".utf8), subject: subject)
        try await agent.flush()
        let refusal = try #require(await Self.violation(agentEvents, containing: "Permissions Violation for Publish to \"\(subject)\""))
        #expect(refusal.code == .notPermitted)

        let ledger = try await fixture.connect("ledger")
        try await ledger.publish(Array("signed".utf8), subject: subject)
        try await ledger.flush()
        let received = try await receive(1, from: announcements)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == ["signed"], "the forged one never arrived")
        #expect(fixture.server.log.contains("Publish Violation"), "nats-server itself refused it")
        for connection in [listener, agent, ledger] { await connection.close() }
    }

    @Test func withoutCredentialsOrWithAnotherKeyNobodyConnects() async throws {
        let fixture = try await Fixture()
        await #expect { _ = try await fixture.connect(nil) } throws: { ($0 as? NATSError)?.code == .authentication }
        let stranger = SigningKey.generate()
        let path = fixture.folder.file("stranger.creds")
        try NATSCredentials.fileText(about: "stranger", publicKey: NKey.publicKey(stranger.publicKey), seed: NKey.seed(stranger))
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        await #expect { _ = try await fixture.connect("stranger") } throws: { error in
            let error = error as? NATSError
            return error?.code == .authentication && error?.description.contains("benctl nats config") == true
        }
        // A credentials file others can read is refused before any connection is tried.
        chmod(fixture.folder.file("ledger.creds"), 0o644)
        await #expect { _ = try await fixture.connect("ledger") } throws: { "\($0)".contains("chmod 600") }
    }

    @Test func anAgentHearsOnlyItsOwnSubjectsAndReadsTheStreamWithoutChangingIt() async throws {
        let fixture = try await Fixture()
        let ledger = try await fixture.connect("ledger")
        let js = try ledger.jetStream()
        _ = try await js.createOrUpdateStream(NATSSubjects.announceStreamConfig(Self.fleet))
        _ = try await js.publish(Array("v1".utf8), subject: NATSSubjects.announce(Self.fleet))

        let agent = try await fixture.connect("node-a")
        let events = agent.events()
        // Its own query subject, and the stored announcement through its own inbox (`_INBOX.<its nkey>`).
        _ = try await agent.subscribe(subject: NATSSubjects.nodeQuery(Self.fleet, node: NodeID(stringLiteral: "node-a")))
        let last = try await agent.jetStream().lastMessage(stream: NATSSubjects.announceStream(Self.fleet), subject: NATSSubjects.announce(Self.fleet))
        #expect(last.map { String(decoding: $0.payload, as: UTF8.self) } == "v1")
        // Another node's queries, everyone's acks, everybody's inboxes: refused.
        for subject in [NATSSubjects.nodeQuery(Self.fleet, node: NodeID(stringLiteral: "rack.node-b")), NATSSubjects.ack(Self.fleet), "_INBOX.>"] {
            _ = try await agent.subscribe(subject: subject)
            #expect(await Self.violation(events, containing: "Permissions Violation for Subscription to \"\(subject)\"") != nil, "\(subject)")
        }
        // It cannot purge or delete the stream.
        await #expect(throws: NATSError.self) { try await agent.jetStream().purgeStream(NATSSubjects.announceStream(Self.fleet)) }
        #expect(try await js.streamInfo(NATSSubjects.announceStream(Self.fleet))?.messages == 1)
        await agent.close()
        await ledger.close()
    }

    /// The alarm and revocation streams: the ledger's publishes are kept, an agent reads them back (and both are
    /// refused to it as a publisher: nothing it sends is stored), and it cannot purge them.
    @Test func onlyTheLedgerFillsTheAlarmAndRevocationStreamsAndAnAgentReadsThem() async throws {
        let fixture = try await Fixture()
        let ledger = try await fixture.connect("ledger")
        let js = try ledger.jetStream()
        let streams = [
            (NATSSubjects.revokeStreamConfig(Self.fleet), NATSSubjects.revoke(Self.fleet)),
            (NATSSubjects.alarmStreamConfig(Self.fleet), NATSSubjects.alarm(Self.fleet)),
        ]
        let agent = try await fixture.connect("node-a")
        let events = agent.events()
        for (config, subject) in streams {
            _ = try await js.createOrUpdateStream(config)
            _ = try await js.publish(Array("signed".utf8), subject: subject)
            try await agent.publish(Array("forged".utf8), subject: subject)
            try await agent.flush()
            #expect(await Self.violation(events, containing: "Permissions Violation for Publish to \"\(subject)\"") != nil, "\(subject)")
            let read = try await agent.jetStream().messages(stream: config.name, subject: subject, limit: 16)
            #expect(read.map(\.text) == ["signed"], "\(config.name) keeps the ledger's message only")
            await #expect(throws: NATSError.self) { try await agent.jetStream().purgeStream(config.name) }
            #expect(try await js.streamInfo(config.name)?.messages == 1)
        }
        await agent.close()
        await ledger.close()
    }

    @Test func anOperatorAsksTheLedgerAndNodesAndMayPublishNothingElse() async throws {
        let fixture = try await Fixture()
        let ledger = try await fixture.connect("ledger")
        let api = try await ledger.subscribe(subject: NATSSubjects.apiWildcard(Self.fleet))
        let dotted = try await fixture.connect("rack.node-b")
        let queries = try await dotted.subscribe(subject: NATSSubjects.nodeQuery(Self.fleet, node: NodeID(stringLiteral: "rack.node-b")))
        try await ledger.flush()
        try await dotted.flush()
        let answering = Task {
            for await request in api { try? await request.respond(Array("ledger".utf8)) }
        }
        let answeringQueries = Task {
            for await request in queries { try? await request.respond(Array("node".utf8)) }
        }
        defer {
            answering.cancel()
            answeringQueries.cancel()
        }

        let operatorConnection = try await fixture.connect("operator")
        let reply = try await operatorConnection.request([], subject: NATSSubjects.api(Self.fleet, verb: "status"), timeout: .seconds(10))
        #expect(String(decoding: reply.payload, as: UTF8.self) == "ledger")
        // A node whose id spans subject tokens is queried by its own subject, which the operator may use.
        let answer = try await operatorConnection.request(
            [], subject: NATSSubjects.nodeQuery(Self.fleet, node: NodeID(stringLiteral: "rack.node-b")), timeout: .seconds(10))
        #expect(String(decoding: answer.payload, as: UTF8.self) == "node")
        // An announcement, or an ack, from an operator: refused by the server; a request to a subject it may not
        // use says so instead of only timing out.
        await #expect {
            _ = try await operatorConnection.request([], subject: NATSSubjects.heartbeat(Self.fleet), timeout: .seconds(2))
        } throws: { ($0 as? NATSError)?.code == .notPermitted }
        await operatorConnection.close()
        await dotted.close()
        await ledger.close()
    }

    @Test func theConfigurationNamesEachIdentityWithItsPermissions() throws {
        let key = NKey.publicKey(SigningKey.generate().publicKey)
        let authorization = NATSAuthorization(
            fleet: Self.fleet, ledger: key, nodes: [(NodeID(stringLiteral: "n1"), key), (NodeID(stringLiteral: "a.b"), key)], operators: [("alice", key)])
        let text = authorization.serverConfiguration(header: ["made by a test"])
        #expect(text.hasPrefix("# made by a test\naccounts: {\n  \"BEN_auth\": {\n    jetstream: enabled\n"))
        let agent = NATSPermissions.agent(Self.fleet, node: NodeID(stringLiteral: "n1"), publicKey: key)
        #expect(agent.publish == [
            "ben.auth.ack", "ben.auth.heartbeat", "$JS.API.STREAM.INFO.BEN_auth_ANNOUNCE", "$JS.API.STREAM.MSG.GET.BEN_auth_ANNOUNCE",
            "$JS.API.DIRECT.GET.BEN_auth_ANNOUNCE", "$JS.API.DIRECT.GET.BEN_auth_ANNOUNCE.>", "$JS.API.STREAM.INFO.BEN_auth_ALARM",
            "$JS.API.STREAM.MSG.GET.BEN_auth_ALARM", "$JS.API.DIRECT.GET.BEN_auth_ALARM", "$JS.API.DIRECT.GET.BEN_auth_ALARM.>",
            "$JS.API.STREAM.INFO.BEN_auth_REVOKE", "$JS.API.STREAM.MSG.GET.BEN_auth_REVOKE", "$JS.API.DIRECT.GET.BEN_auth_REVOKE",
            "$JS.API.DIRECT.GET.BEN_auth_REVOKE.>", "ben.auth.api.topology.get",
        ])
        #expect(agent.subscribe == [
            "ben.auth.announce", "ben.auth.activate", "ben.auth.alarm", "ben.auth.revoke", "ben.auth.node.n1.query", "ben.auth.node.n1.answer", "ben.auth.node.n1.announce", "_INBOX.\(key).>",
        ])
        let ledger = NATSPermissions.ledger(Self.fleet, nodes: [NodeID(stringLiteral: "n1"), NodeID(stringLiteral: "a.b")], publicKey: key)
        #expect(ledger.publish == [
            "ben.auth.announce", "ben.auth.activate", "ben.auth.alarm", "ben.auth.revoke", "ben.auth.node.*.answer", "ben.auth.node.a.b.answer", "ben.auth.node.*.announce",
            "ben.auth.node.a.b.announce", "$JS.API.>", "$KV.ben_auth_ledger.>",
        ])
        let operatorPermissions = NATSPermissions.operator(Self.fleet, nodes: [NodeID(stringLiteral: "n1")], publicKey: key)
        #expect(operatorPermissions.publish == ["ben.auth.api.>", "ben.auth.node.*.query"])
        #expect(!operatorPermissions.allowResponses)
        #expect(text.contains("# operator alice"))
    }
}
