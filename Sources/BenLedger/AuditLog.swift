public import BenCore
import BenCrypto
import GRDB

/// One entry of the append-only audit log.
public struct AuditEntry: Sendable, Hashable {
    public var seq: Int64
    public var at: Timestamp
    /// `topology`, `stage`, `deploy`, `transition`, `acks`, `rollback`, …
    public var kind: String
    /// Key id of the operator key that asked, or `ledger` for what the ledger did by itself.
    public var operatorKey: String
    public var detail: JSONValue
    public var prev: String
    public var hash: String

    /// BLAKE2b-256 over the previous entry's hash, a newline, and this entry's canonical JSON (without hashes).
    static func hash(prev: String, seq: Int64, at: Timestamp, kind: String, operatorKey: String, detail: JSONValue) -> String {
        let body: JSONValue = [
            "seq": .int(seq), "at": .string(at.rfc3339), "kind": .string(kind), "operator": .string(operatorKey), "detail": detail,
        ]
        var bytes = Array(prev.utf8)
        bytes.append(0x0A)
        bytes += (try? CanonicalJSON.encode(body)) ?? []
        return BLAKE2b.key(of: bytes).hex
    }

    public static let genesis = String(repeating: "0", count: 64)
}

/// What `benctl log --verify` found.
public struct AuditVerification: Sendable, Hashable {
    public var entries: Int
    /// The first entry that does not match the chain, and why; nil when the chain is whole.
    public var firstBad: (seq: Int64, problem: String)?

    public static func == (a: Self, b: Self) -> Bool {
        a.entries == b.entries && a.firstBad?.seq == b.firstBad?.seq && a.firstBad?.problem == b.firstBad?.problem
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries)
        hasher.combine(firstBad?.seq)
    }
}

extension LedgerDatabase {
    /// Appends an entry, chaining it to the last one, in the same transaction as the read of the last hash.
    @discardableResult
    public func appendAudit(kind: String, operatorKey: String, detail: JSONValue, at: Timestamp) throws -> AuditEntry {
        try queue.write { db in
            let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            let seq = (last?["seq"] as Int64? ?? 0) + 1
            let prev = last?["hash"] as String? ?? AuditEntry.genesis
            let hash = AuditEntry.hash(prev: prev, seq: seq, at: at, kind: kind, operatorKey: operatorKey, detail: detail)
            let detailText = (try? CanonicalJSON.string(detail)) ?? "null"
            try db.execute(
                sql: "INSERT INTO audit (seq, at, kind, operator, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [seq, at.millisecondsSinceEpoch, kind, operatorKey, detailText, prev, hash])
            return AuditEntry(seq: seq, at: at, kind: kind, operatorKey: operatorKey, detail: detail, prev: prev, hash: hash)
        }
    }

    /// Entries after `seq`, oldest first, at most `limit`.
    public func auditEntries(after seq: Int64 = 0, limit: Int = 10_000) throws -> [AuditEntry] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, limit]).map(AuditEntry.init(row:))
        }
    }

    /// Recomputes the chain from the first entry and names the first entry that was altered, removed or
    /// inserted.
    public func verifyAudit() throws -> AuditVerification {
        try queue.read { db in
            var expectedPrev = AuditEntry.genesis
            var expectedSeq: Int64 = 1
            var count = 0
            for row in try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY seq") {
                count += 1
                let seq: Int64 = row["seq"]
                let detailText: String = row["detail"]
                guard seq == expectedSeq else {
                    return AuditVerification(entries: count, firstBad: (expectedSeq, "entry \(expectedSeq) is missing (the next is \(seq))"))
                }
                guard row["prev"] as String == expectedPrev else {
                    return AuditVerification(entries: count, firstBad: (seq, "its link to entry \(seq - 1) was changed"))
                }
                guard let detail = try? JSONParser.parse(detailText) else {
                    return AuditVerification(entries: count, firstBad: (seq, "its detail is not JSON any more"))
                }
                let hash = AuditEntry.hash(
                    prev: expectedPrev, seq: seq, at: Timestamp(millisecondsSinceEpoch: row["at"]), kind: row["kind"],
                    operatorKey: row["operator"], detail: detail)
                guard hash == row["hash"] as String else {
                    return AuditVerification(entries: count, firstBad: (seq, "its content no longer matches its hash (edited)"))
                }
                expectedPrev = hash
                expectedSeq += 1
            }
            return AuditVerification(entries: count, firstBad: nil)
        }
    }
}

extension LedgerDatabase {
    /// The newest entries of these kinds recorded at or after `since`, newest first, at most `limit` (the ledger's
    /// alarms, which `benctl status` shows).
    public func latestAuditEntries(kinds: Set<String>, since: Timestamp, limit: Int) throws -> [AuditEntry] {
        guard !kinds.isEmpty, limit > 0 else { return [] }
        let marks = Array(repeating: "?", count: kinds.count).joined(separator: ", ")
        var arguments: [any DatabaseValueConvertible] = kinds.sorted()
        arguments += [since.millisecondsSinceEpoch, limit] as [any DatabaseValueConvertible]
        return try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit WHERE kind IN (\(marks)) AND at >= ? ORDER BY seq DESC LIMIT ?",
                arguments: StatementArguments(arguments)
            ).map(AuditEntry.init(row:))
        }
    }
}

extension AuditEntry {
    /// An entry as the `audit` table stores it.
    init(row: Row) {
        self.init(
            seq: row["seq"], at: Timestamp(millisecondsSinceEpoch: row["at"]), kind: row["kind"], operatorKey: row["operator"],
            detail: (try? JSONParser.parse(row["detail"] as String)) ?? .string(row["detail"]), prev: row["prev"], hash: row["hash"])
    }
}
