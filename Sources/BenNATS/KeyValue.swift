import CNats
import Glibc

extension JetStream {
    /// Opens the key-value bucket `config.bucket`, creating it if it does not exist.
    ///
    /// An existing bucket is brought to `config`'s TTL, and its replica count is raised to `config.replicas`
    /// but never lowered (an operator who raised it by hand keeps it). Other settings of an existing bucket are
    /// left as they are.
    public func keyValue(_ config: KeyValueConfig) async throws(NATSError) -> KeyValue {
        let context = self.context
        let handle = try await BlockingCalls.shared.run { () throws(NATSError) -> KeyValueHandle in
            let stream = "KV_\(config.bucket)"
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(rawValue: 0)
            let status = js_GetStreamInfo(&info, context.pointer, stream, nil, &code)
            if status == NATS_OK, let info {
                defer { jsStreamInfo_Destroy(info) }
                let existing = info.pointee.Config!
                let ttl = config.ttl.map(nanoseconds) ?? 0
                if existing.pointee.Replicas < Int64(config.replicas) || existing.pointee.MaxAge != ttl {
                    existing.pointee.Replicas = max(existing.pointee.Replicas, Int64(config.replicas))
                    existing.pointee.MaxAge = ttl
                    var updated: UnsafeMutablePointer<jsStreamInfo>?
                    var updateCode = jsErrCode(rawValue: 0)
                    let s = js_UpdateStream(&updated, context.pointer, existing, nil, &updateCode)
                    try NATSLibrary.check(s, "update key-value bucket \(config.bucket)", jetStreamCode: updateCode)
                    jsStreamInfo_Destroy(updated)
                }
                var kv: OpaquePointer?
                try NATSLibrary.check(js_KeyValue(&kv, context.pointer, config.bucket), "open key-value bucket \(config.bucket)")
                return KeyValueHandle(pointer: kv!, context: context)
            }
            if !(status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
                try NATSLibrary.check(status, "read key-value bucket \(config.bucket)", jetStreamCode: code)
            }
            var c = kvConfig()
            try NATSLibrary.check(kvConfig_Init(&c), "set up key-value bucket \(config.bucket)")
            let strings = CStrings()
            c.Bucket = UnsafePointer(strings.dup(config.bucket))
            c.Description = strings.dup(config.description)
            c.History = UInt8(clamping: config.history)
            c.TTL = config.ttl.map(nanoseconds) ?? 0
            c.StorageType = config.storage == .memory ? js_MemoryStorage : js_FileStorage
            c.Replicas = Int32(config.replicas)
            var kv: OpaquePointer?
            let created = withExtendedLifetime(strings) { js_CreateKeyValue(&kv, context.pointer, &c) }
            try NATSLibrary.check(created, "create key-value bucket \(config.bucket)")
            return KeyValueHandle(pointer: kv!, context: context)
        }
        return KeyValue(handle: handle, bucket: config.bucket)
    }
}

extension JetStream {
    /// Opens the existing key-value bucket `bucket` as it is, or returns nil if there is none.
    public func keyValue(bucket: String) async throws(NATSError) -> KeyValue? {
        let context = self.context
        let handle = try await BlockingCalls.shared.run { () throws(NATSError) -> KeyValueHandle? in
            var kv: OpaquePointer?
            let status = js_KeyValue(&kv, context.pointer, bucket)
            if status == NATS_NOT_FOUND { return nil }
            try NATSLibrary.check(status, "open key-value bucket \(bucket)")
            return KeyValueHandle(pointer: kv!, context: context)
        }
        return handle.map { KeyValue(handle: $0, bucket: bucket) }
    }
}

/// How a key-value bucket is configured (the fields Ben uses).
public struct KeyValueConfig: Sendable, Hashable {
    /// The bucket's name (`A-Z a-z 0-9 _ -`); its stream is `KV_<bucket>`.
    public var bucket: String
    public var description: String?
    /// Values kept per key (1 to 64). Default 1: only the latest.
    public var history = 1
    /// How long the server keeps a value after it was written; nil for ever. The server removes an expired
    /// value by itself (no delete marker), so `create` succeeds again afterwards.
    public var ttl: Duration?
    public var storage: JetStream.StreamConfig.Storage = .file
    /// Copies kept in a cluster. Default 1. An existing bucket's count is raised to this, never lowered.
    public var replicas = 1

    public init(bucket: String) {
        self.bucket = bucket
    }
}

/// One value of a key-value bucket, as the server stores it.
public struct KeyValueEntry: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    /// The stream sequence the value was stored at: strictly increasing over the whole bucket, so a value
    /// written later always has a higher revision, whoever wrote it.
    public var revision: UInt64
    /// When the server stored it, in nanoseconds since 1970-01-01 UTC (the server's clock).
    public var createdNanoseconds: Int64
    /// A delete (or purge) marker rather than a value (only a watch reports these; `get` returns nil).
    public var isDeleted: Bool
}

/// A JetStream key-value bucket (libnats's `kvStore`): get, create-if-absent and compare-and-set update.
///
/// `create` and `update` are how a value is written under contention: each succeeds for exactly one writer,
/// and the loser gets a `NATSError` with code `.wrongRevision`.
public struct KeyValue: Sendable {
    let handle: KeyValueHandle
    public let bucket: String

    /// The latest value of `key`, or nil if it has none (never written, deleted, or expired).
    public func get(_ key: String) async throws(NATSError) -> KeyValueEntry? {
        let handle = self.handle
        let bucket = self.bucket
        return try await BlockingCalls.shared.run { () throws(NATSError) -> KeyValueEntry? in
            var entry: OpaquePointer?
            let status = kvStore_Get(&entry, handle.pointer, key)
            if status == NATS_NOT_FOUND { return nil }
            try NATSLibrary.check(status, "read \(key) in key-value bucket \(bucket)")
            defer { kvEntry_Destroy(entry) }
            return KeyValueEntry(copying: entry!)
        }
    }

    /// Writes `value` only if `key` has no value now; returns its revision. Throws `.wrongRevision` if it has.
    public func create(_ key: String, value: [UInt8]) async throws(NATSError) -> UInt64 {
        let handle = self.handle
        let operation = "create \(key) in key-value bucket \(bucket)"
        return try await BlockingCalls.shared.run { () throws(NATSError) -> UInt64 in
            var revision: UInt64 = 0
            let status = value.withUnsafeBytes { kvStore_Create(&revision, handle.pointer, key, $0.baseAddress, Int32($0.count)) }
            try Self.check(status, operation)
            return revision
        }
    }

    /// Writes `value` only if the latest revision of `key` is `lastRevision`; returns the new revision. Throws
    /// `.wrongRevision` if someone else wrote it since (or it expired).
    public func update(_ key: String, value: [UInt8], lastRevision: UInt64) async throws(NATSError) -> UInt64 {
        let handle = self.handle
        let operation = "update \(key) in key-value bucket \(bucket) at revision \(lastRevision)"
        return try await BlockingCalls.shared.run { () throws(NATSError) -> UInt64 in
            var revision: UInt64 = 0
            let status = value.withUnsafeBytes {
                kvStore_Update(&revision, handle.pointer, key, $0.baseAddress, Int32($0.count), lastRevision)
            }
            try Self.check(status, operation)
            return revision
        }
    }

    /// Deletes `key` (a delete marker: `get` returns nil, and `create` succeeds again).
    public func delete(_ key: String) async throws(NATSError) {
        let handle = self.handle
        let operation = "delete \(key) in key-value bucket \(bucket)"
        try await BlockingCalls.shared.run { () throws(NATSError) in
            try NATSLibrary.check(kvStore_Delete(handle.pointer, key), operation)
        }
    }

    /// A failed create or update: "wrong last sequence" from the server is a lost compare-and-set.
    static func check(_ status: natsStatus, _ operation: String) throws(NATSError) {
        guard status != NATS_OK else { return }
        var error = NATSLibrary.error(status, operation)
        if error.detail.contains("wrong last sequence") {
            error.code = .wrongRevision
            error.jetStreamCode = Int(JSStreamWrongLastSequenceErr.rawValue)
        }
        throw error
    }
}

extension KeyValueEntry {
    init(copying entry: OpaquePointer) {
        key = String(cString: kvEntry_Key(entry))
        let count = Int(kvEntry_ValueLen(entry))
        if count > 0, let bytes = kvEntry_Value(entry) {
            value = Array(UnsafeRawBufferPointer(start: bytes, count: count))
        } else {
            value = []
        }
        revision = kvEntry_Revision(entry)
        createdNanoseconds = kvEntry_Created(entry)
        let operation = kvEntry_Operation(entry)
        isDeleted = operation == kvOp_Delete || operation == kvOp_Purge
    }
}

/// Owns one `kvStore *`.
///
/// `@unchecked Sendable` is safe: libnats's kvStore calls are requests on the thread-safe connection and its
/// JetStream context (which this keeps alive), `pointer` never changes, and it is destroyed only in `deinit`.
final class KeyValueHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let context: JetStreamHandle

    init(pointer: OpaquePointer, context: JetStreamHandle) {
        self.pointer = pointer
        self.context = context
    }

    deinit { kvStore_Destroy(pointer) }
}
