import BenCore
import BenIntent
import BenNATS
import BenPeerLink
import BenShell
import BenProtocol
import Logging

extension AgentService {
    /// NATS: the announcement stream's history (a node that was down catches up), live announcements,
    /// heartbeats, and the node's query endpoint. The agent keeps serving its version whether or not NATS is
    /// reachable; this reconnects by itself.
    func followControlPlane() async {
        let connection: NATSConnection
        do {
            var settings = NATSSettings()
            settings.name = "ben-agent \(configuration.node)"
            settings.credentialsFile = configuration.natsCredentials
            settings.reconnect.retryInitialConnect = true
            connection = try await NATSConnection.connect(to: configuration.natsServers, settings: settings, logger: logger)
        } catch {
            logger.error("cannot reach NATS; serving the current version without a control plane", metadata: ["error": "\(error)"])
            return
        }
        attach(connection)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.followAnnouncements(connection) }
            group.addTask { await self.heartbeat(connection) }
            group.addTask { await self.answerQueries(connection) }
            group.addTask { await self.answerAgain(connection) }
            group.addTask { await self.followActivations(connection) }
            group.addTask { await self.followAlarms(connection) }
            group.addTask { await self.followRevocations(connection) }
            group.addTask { await self.followWaveAnnouncements(connection) }
            group.addTask { await self.followConnectionState(connection) }
            await group.waitForAll()
        }
        await connection.close()
    }

    func attach(_ connection: NATSConnection) {
        nats = connection
        let pending = outbox
        outbox = []
        for (bytes, subject) in pending { publish(bytes, to: subject) }
        natsStateChanged()
    }

    /// Publishes on NATS; before the first connection, keeps the message until there is one (an ack is never
    /// dropped for want of a connection; once connected, BenNATS buffers across reconnects).
    func publish(_ bytes: [UInt8], to subject: String) {
        guard let nats else {
            outbox.append((bytes, subject))
            return
        }
        let logger = logger
        tasks.spawn {
            do {
                try await nats.publish(bytes, subject: subject)
            } catch {
                logger.error("cannot publish", metadata: ["subject": "\(subject)", "error": "\(error)"])
            }
        }
    }

    func followAnnouncements(_ connection: NATSConnection) async {
        let fleet = configuration.fleet
        let subject = NATSSubjects.announce(fleet)
        let subscription: NATSSubscription
        do {
            subscription = try await connection.subscribe(subject: subject)
            try await connection.flush()
        } catch {
            logger.error("cannot follow announcements", metadata: ["subject": "\(subject)", "error": "\(error)"])
            return
        }
        logger.info("following announcements", metadata: ["subject": "\(subject)"])
        // Subscribed first, then the stored history: nothing published in between is missed.
        await catchUp(connection)
        for await message in subscription {
            announce(message.payload, fleetWide: true)
        }
    }

    /// `fleetWide`: the announcement came the way the whole fleet gets it (its announcement subject or stream, or
    /// gossip), not to this node by name as one of a rollout wave; only such announcements are gossiped on.
    func announce(_ bytes: [UInt8], fleetWide: Bool) {
        guard let incoming = readAnnouncement(bytes) else { return }
        if fleetWide { noteFleetWide(incoming) }
        handle(.announcement(incoming, local: holdings(incoming)))
    }

    func noteFleetWide(_ incoming: IncomingAnnouncement) {
        guard case .valid = incoming.signature else { return }
        gossip.fleetWide = max(gossip.fleetWide, incoming.announcement.version)
    }

    // MARK: Heartbeats

    func heartbeatSoon() {
        heartbeatTrigger.yield()
    }

    func heartbeat(_ connection: NATSConnection) async {
        let subject = NATSSubjects.heartbeat(configuration.fleet)
        let every = configuration.heartbeatEvery
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // The period, with ±20 % jitter so a fleet does not beat in step.
                while !Task.isCancelled {
                    let jitter = Double.random(in: 0.8...1.2)
                    try? await Task.sleep(for: every * jitter)
                    self.heartbeatTrigger.yield()
                }
            }
            group.addTask {
                for await _ in self.heartbeatStream {
                    let beat = await self.currentHeartbeat()
                    try? await connection.publish(beat.canonicalBytes, subject: subject)
                }
            }
            heartbeatTrigger.yield()
            await group.waitForAll()
        }
    }

    func currentHeartbeat() -> Heartbeat {
        var working = ""
        if let (version, phase) = machine.current, version != machine.activeVersion {
            working = "\(version) \(phase)"
            if let progress = machine.progress { working += " \(progress.have)/\(progress.of)" }
        }
        return Heartbeat(
            fleet: configuration.fleet, node: configuration.node, active: machine.activeVersion, manifest: machine.record.active?.manifest,
            working: working, at: now(), alerts: alerts.count(for: machine.activeVersion))
    }

    // MARK: Answers asked for again

    /// `ben.<fleet>.node.<id>.answer`: the ledger, retrying, asks this node by name for its answer to a version
    /// whose ack never reached it. The machine answers with the same signed bytes, if it has them.
    func answerAgain(_ connection: NATSConnection) async {
        await serve(NATSSubjects.nodeAnswer(configuration.fleet, node: configuration.node), on: connection, "follow answer requests") { message in
            guard let request = try? JSONParser.parse(message.payload, limits: .init(maxBytes: 4096)),
                case .int(let v)? = request["version"], v > 0
            else { return }
            handle(.answerRequested(Version(UInt64(v))))
        }
    }

    // MARK: Queries

    /// `ben.<fleet>.node.<id>.query`: evaluates an input against the intent this node serves, for
    /// `benctl eval --node`.
    func answerQueries(_ connection: NATSConnection) async {
        await serve(NATSSubjects.nodeQuery(configuration.fleet, node: configuration.node), on: connection, "answer queries") { message in
            try? await message.respond(evaluate(message.payload))
        }
    }

    /// Hands every message on `subject` to `body`, in order, for as long as the subscription lasts; one that cannot
    /// be made is logged as "cannot `what`".
    func serve(_ subject: String, on connection: NATSConnection, _ what: String, _ body: (NATSMessage) async -> Void) async {
        do {
            let subscription = try await connection.subscribe(subject: subject)
            for await message in subscription { await body(message) }
        } catch {
            logger.error("cannot \(what)", metadata: ["subject": "\(subject)", "error": "\(error)"])
        }
    }

    nonisolated func evaluate(_ request: [UInt8]) -> [UInt8] {
        let response: JSONValue
        do {
            let query = try JSONParser.parse(request, limits: .init(maxBytes: 1 << 20))
            guard let roleText = query["role"]?.stringValue, let role = Role(rawValue: roleText), let input = query["input"] else {
                throw AgentError.configuration("a query is {\"role\": ROLE, \"input\": {...}}")
            }
            guard configuration.roles.contains(role) else {
                throw AgentError.configuration(
                    "\(configuration.node) runs \(configuration.roles.map(\.rawValue).sorted().joined(separator: ", ")), not \(role); it evaluates no \(role) intent")
            }
            guard let (intent, version) = holder.current else {
                throw AgentError.configuration("\(configuration.node) has no active version yet")
            }
            var schema: SchemaReference?
            if let text = query["schema"]?.stringValue {
                let parts = text.split(separator: "@")
                if parts.count == 2, let v = Int(parts[1]) { schema = SchemaReference(name: String(parts[0]), version: v) }
            }
            var migration: EvaluationReport.Migration?
            if let name = query["schema"]?.stringValue, case .int(let from)? = query["from"], case .int(let to)? = query["to"] {
                migration = EvaluationReport.Migration(schema: name, from: Int(from), to: Int(to))
            }
            let report = try timedEvaluation(role: role) {
                try EvaluationReport.evaluate(intent, role: role, input: input, schema: schema, migration: migration)
            }
            if role == .detector { countAlerts(report, version: version) }
            response = [
                "node": .string(configuration.node.rawValue), "version": .int(Int64(version.rawValue)), "result": report.json,
                "text": .string(report.text),
            ]
        } catch {
            response = ["node": .string(configuration.node.rawValue), "error": .string("\(error)")]
        }
        return (try? CanonicalJSON.encode(response)) ?? []
    }
}
