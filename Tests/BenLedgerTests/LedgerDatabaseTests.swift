import BenCore
import BenLedger
import BenProtocol
import BenTestKit
import GRDB
import Testing

@Suite struct LedgerDatabaseTests {
    static let t0 = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)

    @Test func theDeploymentMachineSurvivesARoundTripThroughSQLite() throws {
        let dir = try TemporaryDirectory()
        let database = try LedgerDatabase(path: dir.file("ledger.sqlite"))
        var machine = DeploymentMachine(fleet: FleetName("demo")!)
        let m = Key(digest: [UInt8](repeating: 4, count: 32))
        let staged = machine.onStage(manifest: m, manifestSize: 10, size: 100, label: "intent", now: Self.t0)
        for case .persist(let record) in staged.actions { try database.save(record) }
        let plan = TestPlans.striped(fleet: FleetName("demo")!, version: 1, nodes: 3, stripes: 1, fanOut: 2)
        let deployed = try machine.onDeploy(1, plan: plan, planKey: m, ledgerAddress: "127.0.0.1:7400", timeout: .seconds(60), supersede: false, now: Self.t0).get()
        for case .persist(let record) in deployed { try database.save(record) }
        let ack = Ack(fleet: FleetName("demo")!, version: 1, node: "n1", manifest: m, status: .active, reason: "", at: Self.t0)
        for case .recordAck(let a) in machine.onAcks([ack], now: Self.t0) { try database.recordAck(a, envelope: [1, 2, 3]) }
        _ = machine.onMissingReports(1, [.init(node: "n2", reason: MissingReason(.unreachable, "refused"))])
        try database.save(machine.versions[1]!)

        let restored = DeploymentMachine(fleet: FleetName("demo")!, versions: try database.loadVersions())
        #expect(restored.versions == machine.versions)
        #expect(try database.ackEnvelopes(1)["n1"] == [1, 2, 3])
    }

    @Test func logVerifyNamesTheEntryThatWasEdited() throws {
        let dir = try TemporaryDirectory()
        let database = try LedgerDatabase(path: dir.file("ledger.sqlite"))
        for i in 1...5 {
            try database.appendAudit(kind: "stage", operatorKey: "op1", detail: ["version": .int(Int64(i))], at: Self.t0 + .seconds(Int64(i)))
        }
        #expect(try database.verifyAudit().firstBad == nil)
        #expect(try database.verifyAudit().entries == 5)
        // Someone edits entry 3 directly in SQLite.
        let queue = try DatabaseQueue(path: dir.file("ledger.sqlite"))
        try queue.write { db in try db.execute(sql: #"UPDATE audit SET detail = '{"version":33}' WHERE seq = 3"#) }
        let result = try database.verifyAudit()
        #expect(result.firstBad?.seq == 3)
        #expect(result.firstBad?.problem.contains("edited") == true)
    }

    @Test func logVerifyNamesADeletedEntry() throws {
        let dir = try TemporaryDirectory()
        let database = try LedgerDatabase(path: dir.file("ledger.sqlite"))
        for i in 1...4 { try database.appendAudit(kind: "k", operatorKey: "ledger", detail: .int(Int64(i)), at: Self.t0) }
        let queue = try DatabaseQueue(path: dir.file("ledger.sqlite"))
        try queue.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq = 2") }
        #expect(try database.verifyAudit().firstBad?.seq == 2)
    }
}
