public import BenCore
import BenCrypto
public import BenProtocol
import Foundation
import GRDB

/// The ledger's SQLite state (through GRDB): versions and their rollouts, every verified ack with its signed
/// envelope, what relays reported, and the hash-chained audit log.
///
/// Every write is a transaction, so a ledger killed at any instant restarts from a consistent state and the
/// deployment machine is rebuilt from these rows (`loadVersions`).
public final class LedgerDatabase: Sendable {
    let queue: DatabaseQueue
    public let path: String

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL: readers (status, log) never wait for the writer; synchronous FULL keeps every commit durable.
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: versions, acks, audit") { db in
            try db.create(table: "version") { t in
                t.primaryKey("version", .integer)
                t.column("manifest", .text).notNull()
                t.column("manifest_size", .integer).notNull()
                t.column("bundle_size", .integer).notNull()
                t.column("label", .text).notNull()
                t.column("status", .text).notNull()
                t.column("staged_at", .integer).notNull()
                t.column("changed_at", .integer).notNull()
                // The rollout, once deployed: the announcement document, the required nodes, the attempt number.
                t.column("announcement", .text)
                t.column("required", .text)
                t.column("attempt", .integer)
            }
            try db.create(table: "ack") { t in
                t.column("version", .integer).notNull().references("version")
                t.column("node", .text).notNull()
                t.column("status", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("at", .integer).notNull()
                t.column("envelope", .blob).notNull()
                t.primaryKey(["version", "node"])
            }
            try db.create(table: "hint") { t in
                t.column("version", .integer).notNull().references("version")
                t.column("node", .text).notNull()
                t.column("reason", .text).notNull()
                t.primaryKey(["version", "node"])
            }
            try db.create(table: "suspect") { t in
                t.column("version", .integer).notNull().references("version")
                t.column("node", .text).notNull()
                t.column("detail", .text).notNull()
                t.primaryKey(["version", "node"])
            }
            try db.create(table: "audit") { t in
                t.primaryKey("seq", .integer)
                t.column("at", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("operator", .text).notNull()
                t.column("detail", .text).notNull()
                t.column("prev", .text).notNull()
                t.column("hash", .text).notNull()
            }
            try db.create(table: "setting") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
            }
        }
        registerRolloutMigration(&migrator)
        return migrator
    }

    // MARK: Versions

    /// Writes a version's row and its rollout's hints and suspects, in one transaction.
    public func save(_ record: VersionRecord) throws {
        try queue.write { db in try Self.save(record, in: db) }
    }

    static func save(_ record: VersionRecord, in db: Database) throws {
        let deployment = record.deployment
        try db.execute(
            sql: """
                INSERT INTO version (version, manifest, manifest_size, bundle_size, label, status, staged_at, changed_at,
                                     announcement, required, attempt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(version) DO UPDATE SET status = excluded.status, changed_at = excluded.changed_at,
                    announcement = excluded.announcement, required = excluded.required, attempt = excluded.attempt
                """,
            arguments: [
                Int64(record.version.rawValue), record.manifest.hex, record.manifestSize, record.bundleSize, record.label,
                record.status.rawValue, record.stagedAt.millisecondsSinceEpoch, record.changedAt.millisecondsSinceEpoch,
                deployment.map { $0.announcement.canonicalString },
                deployment.map { try! CanonicalJSON.string(.array($0.required.sorted().map { .string($0.rawValue) })) },
                deployment.map { $0.attempt },
            ])
        guard let deployment else { return }
        try saveRollout(record, in: db)
        let v = Int64(record.version.rawValue)
        try db.execute(sql: "DELETE FROM hint WHERE version = ?", arguments: [v])
        for (node, reason) in deployment.hints {
            try db.execute(sql: "INSERT INTO hint (version, node, reason) VALUES (?, ?, ?)", arguments: [v, node.rawValue, reason.text])
        }
        for (node, detail) in deployment.suspects {
            try db.execute(
                sql: "INSERT OR REPLACE INTO suspect (version, node, detail) VALUES (?, ?, ?)", arguments: [v, node.rawValue, detail])
        }
        // Refused acks cleared by a retry are dropped here too, so the rows match the machine.
        let kept = Set(deployment.acks.keys.map(\.rawValue))
        let rows = try String.fetchAll(db, sql: "SELECT node FROM ack WHERE version = ?", arguments: [v])
        for node in rows where !kept.contains(node) {
            try db.execute(sql: "DELETE FROM ack WHERE version = ? AND node = ?", arguments: [v, node])
        }
    }

    /// Keeps a verified ack with the signed envelope it came in, so anyone can check it again later.
    public func recordAck(_ ack: Ack, envelope: [UInt8]) throws {
        try recordAcks([(ack, envelope)])
    }

    /// Keeps many verified acks in one transaction (an aggregate of 10 000 is one commit, not 10 000).
    public func recordAcks(_ acks: [(Ack, [UInt8])]) throws {
        guard !acks.isEmpty else { return }
        try queue.write { db in
            for (ack, envelope) in acks {
                try Self.insertAck(ack, envelope: envelope, in: db)
            }
        }
    }

    static func insertAck(_ ack: Ack, envelope: [UInt8], in db: Database) throws {
        try db.execute(
                sql: """
                    INSERT INTO ack (version, node, status, reason, at, envelope) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(version, node) DO UPDATE SET status = excluded.status, reason = excluded.reason,
                        at = excluded.at, envelope = excluded.envelope
                    """,
                arguments: [
                    Int64(ack.version.rawValue), ack.node.rawValue, ack.status.rawValue, ack.reason, ack.at.millisecondsSinceEpoch,
                    Data(envelope),
                ])
    }

    /// Every version with its rollout, acks, hints and suspects: what the deployment machine is rebuilt from.
    public func loadVersions() throws -> [VersionRecord] {
        try queue.read { db in
            var records: [Version: VersionRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM version ORDER BY version") {
                let version = Version(UInt64(row["version"] as Int64))
                guard let manifest = Key(hex: row["manifest"] as String), let status = VersionStatus(rawValue: row["status"]) else {
                    throw LedgerError.corruptDatabase(path: path, detail: "version \(version) has a malformed manifest key or status")
                }
                var record = VersionRecord(
                    version: version, manifest: manifest, manifestSize: row["manifest_size"], bundleSize: row["bundle_size"],
                    label: row["label"], status: status, stagedAt: Timestamp(millisecondsSinceEpoch: row["staged_at"]),
                    changedAt: Timestamp(millisecondsSinceEpoch: row["changed_at"]))
                if let text: String = row["announcement"], let requiredText: String = row["required"] {
                    let announcement = try Announcement.decode(Array(text.utf8))
                    let required = try JSONParser.parse(requiredText).arrayValue?.compactMap { $0.stringValue.flatMap(NodeID.init) } ?? []
                    record.deployment = DeploymentRecord(announcement: announcement, required: Set(required), attempt: row["attempt"] ?? 1)
                }
                records[version] = record
            }
            for row in try Row.fetchAll(db, sql: "SELECT version, node, status, reason, at FROM ack") {
                let version = Version(UInt64(row["version"] as Int64))
                guard let node = NodeID(row["node"] as String), let status = Ack.Status(rawValue: row["status"]) else { continue }
                records[version]?.deployment?.acks[node] = AckRecord(
                    status: status, reason: row["reason"], at: Timestamp(millisecondsSinceEpoch: row["at"]))
            }
            for row in try Row.fetchAll(db, sql: "SELECT version, node, reason FROM hint") {
                let version = Version(UInt64(row["version"] as Int64))
                guard let node = NodeID(row["node"] as String) else { continue }
                records[version]?.deployment?.hints[node] = MissingReason(row["reason"] as String)
            }
            try loadRollouts(into: &records, db)
            for row in try Row.fetchAll(db, sql: "SELECT version, node, detail FROM suspect") {
                let version = Version(UInt64(row["version"] as Int64))
                guard let node = NodeID(row["node"] as String) else { continue }
                records[version]?.deployment?.suspects[node] = row["detail"]
            }
            return records.keys.sorted().map { records[$0]! }
        }
    }

    /// The signed envelopes of a version's acks, by node: the proof behind "active".
    public func ackEnvelopes(_ version: Version) throws -> [NodeID: [UInt8]] {
        try queue.read { db in
            var out: [NodeID: [UInt8]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT node, envelope FROM ack WHERE version = ?", arguments: [Int64(version.rawValue)]) {
                if let node = NodeID(row["node"] as String) { out[node] = Array(row["envelope"] as Data) }
            }
            return out
        }
    }

    // MARK: Settings

    public func setting(_ name: String) throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE name = ?", arguments: [name]) }
    }

    public func setSetting(_ name: String, _ value: String) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO setting (name, value) VALUES (?, ?)", arguments: [name, value])
        }
    }
}

/// Errors of the ledger, in the operator's terms.
public enum LedgerError: Error, Sendable, Hashable, CustomStringConvertible {
    case corruptDatabase(path: String, detail: String)
    case configuration(file: String, detail: String)
    case io(path: String, detail: String)
    /// Another ledger holds the fleet's lease (the line names it and until when); this one does not serve.
    case leaseHeld(String)
    /// This ledger lost the fleet's lease while serving (taken over, or not renewed in time); it stopped.
    case leaseLost(String)

    public var description: String {
        switch self {
        case .leaseHeld(let detail): detail
        case .leaseLost(let detail): "\(detail); this ledger stopped serving (another ledger may serve the fleet now)"
        case .corruptDatabase(let path, let detail): "\(path): \(detail); restore the ledger's data directory from a backup"
        case .configuration(let file, let detail): "\(file): \(detail)"
        case .io(let path, let detail): "\(path): \(detail)"
        }
    }
}
