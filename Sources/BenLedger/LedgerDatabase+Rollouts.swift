import BenCore
import BenProtocol
import GRDB

/// Rollouts in waves and two-phase activation (issue 17): each deployment's `RolloutRecord`, as canonical JSON in a
/// table of its own, written in the same transaction as the version's row.
extension LedgerDatabase {
    static func registerRolloutMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2: rollouts") { db in
            try db.create(table: "rollout") { t in
                t.primaryKey("version", .integer).references("version")
                t.column("record", .text).notNull()
            }
        }
    }

    static func saveRollout(_ record: VersionRecord, in db: Database) throws {
        guard let rollout = record.deployment?.rollout else { return }
        try db.execute(
            sql: "INSERT OR REPLACE INTO rollout (version, record) VALUES (?, ?)",
            arguments: [Int64(record.version.rawValue), try CanonicalJSON.string(rollout.json)])
    }

    func loadRollouts(into records: inout [Version: VersionRecord], _ db: Database) throws {
        for row in try Row.fetchAll(db, sql: "SELECT version, record FROM rollout") {
            let version = Version(UInt64(row["version"] as Int64))
            guard records[version]?.deployment != nil else { continue }
            do {
                records[version]?.deployment?.rollout = try RolloutRecord(json: try JSONParser.parse(row["record"] as String))
            } catch {
                throw LedgerError.corruptDatabase(path: path, detail: "the rollout of \(version) is unreadable: \(error)")
            }
        }
    }
}
