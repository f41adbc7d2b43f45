import ArgumentParser
import BenCore
import BenCrypto
import BenLedger
import BenNATS
import BenProtocol
import Foundation

/// `ben-bench ack-verify`: signed acks verified per second by the ledger's verifier on every core, and the time
/// to ingest an aggregate of 10 000 acks (parse, verify every signature, run the deployment machine, write the
/// acks to SQLite in one transaction).
struct AckVerify: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ack-verify")

    @Option(help: "Acks in the aggregate.")
    var acks: Int = 10_000

    @Option(help: "Rounds of verification for the rate (each verifies every ack once).")
    var rounds: Int = 5

    func run() throws {
        let fleet = FleetName("bench")!
        let manifest = BLAKE2b.key(of: Array("bench manifest".utf8))
        let at = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        var keys: [NodeID: PublicKey] = [:]
        var envelopes: [SignedEnvelope] = []
        for i in 0..<acks {
            let node = NodeID("node-\(i)")!
            let key = SigningKey(seed: Array(BLAKE2b.key(of: Array("node \(i)".utf8)).bytes))!
            keys[node] = key.publicKey
            let ack = Ack(fleet: fleet, version: 1, node: node, manifest: manifest, status: .active, reason: "", at: at)
            envelopes.append(key.envelope(ack, context: .ack))
        }
        // The rate: verification alone, every core.
        let clock = ContinuousClock()
        var verified = 0
        let start = clock.now
        for _ in 0..<rounds { verified += AckVerifier.verify(envelopes, keys: keys).verified.count }
        let rate = Double(verified) / seconds(clock.now - start)
        precondition(verified == acks * rounds)

        // Ingest one aggregate end to end.
        let aggregate = Aggregate(fleet: fleet, version: 1, relay: "node-0", acks: envelopes, missing: [])
        let bytes = aggregate.canonicalBytes
        let directory = NSTemporaryDirectory() + "ben-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try LedgerDatabase(path: directory + "/ledger.sqlite")
        var machine = DeploymentMachine(fleet: fleet)
        // The version rows the acks refer to, written as ben-ledger writes them (acks have a foreign key to them).
        func persist(_ actions: [DeploymentMachine.Action]) throws {
            for case .persist(let record) in actions { try database.save(record) }
        }
        try persist(machine.onStage(manifest: manifest, manifestSize: 100, size: 1000, label: "bench", now: at).actions)
        let nodes = (0..<acks).map { PlanNode(id: NodeID("node-\($0)")!, address: HostPort("127.0.0.1:\(10_000 + $0 % 50_000)")!) }
        let plan = Plan(
            fleet: fleet, version: 1, topology: manifest, nodes: nodes, stripes: [[Int32](repeating: Plan.ledger, count: acks)],
            backups: [[Int32]](repeating: [], count: acks))
        try persist(try machine.onDeploy(1, plan: plan, planKey: manifest, ledgerAddress: "127.0.0.1:7400", timeout: .seconds(60), supersede: false, now: at).get())
        let ingestStart = clock.now
        let parsed = try Aggregate.decode(bytes)
        let outcome = AckVerifier.verify(parsed.acks, keys: keys)
        let actions = machine.onAcks(outcome.verified.map(\.ack), now: at)
        var envelopeOf: [NodeID: [UInt8]] = [:]
        for (ack, envelope) in outcome.verified { envelopeOf[ack.node] = envelope }
        let counted = actions.compactMap { if case .recordAck(let ack) = $0 { ack } else { nil } }
        try database.recordAcks(counted.map { ($0, envelopeOf[$0.node] ?? []) })
        try persist(actions)
        let ingest = seconds(clock.now - ingestStart)
        precondition(machine.versions[1]?.status == .active, "the aggregate made the version active")
        print(
            "{\"acks_verified_per_second\": \(Int(rate)), \"cores\": \(ProcessInfo.processInfo.activeProcessorCount), "
                + "\"aggregate_acks\": \(acks), \"aggregate_bytes\": \(bytes.count), \"ingest_seconds\": \(String(format: "%.3f", ingest))}")
    }
}

/// `ben-bench ledger-api --url URL --fleet F`: round trips of the operator API (the `versions` read) against a
/// running ledger, one at a time.
struct LedgerAPIRoundTrip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger-api")

    @Option(help: "NATS URL the ledger serves on.")
    var url: String

    @Option(help: "The fleet.")
    var fleet: String

    @Option(help: "Requests to time.")
    var count: Int = 2000

    func run() async throws {
        let connection = try await NATSConnection.connect(to: url)
        let subject = NATSSubjects.api(FleetName(fleet)!, verb: "versions")
        let clock = ContinuousClock()
        var samples: [Double] = []
        for i in 0..<(count + 200) {
            let start = clock.now
            _ = try await connection.request(Array("{}".utf8), subject: subject, timeout: .seconds(5))
            if i >= 200 { samples.append(seconds(clock.now - start) * 1e6) }
        }
        await connection.close()
        samples.sort()
        let p50 = samples[samples.count / 2]
        let p99 = samples[samples.count * 99 / 100]
        print("{\"requests\": \(count), \"p50_us\": \(String(format: "%.1f", p50)), \"p99_us\": \(String(format: "%.1f", p99))}")
    }
}
