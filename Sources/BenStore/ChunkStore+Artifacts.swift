public import BenCore
import BenCrypto
import Glibc

/// What storing an artifact produced: the manifest entry's numbers.
public struct StoredArtifact: Sendable, Hashable {
    public var size: Int64
    public var chunkSize: Int64
    /// Key of the whole artifact's bytes.
    public var key: Key
    public var chunks: [Key]
    /// Chunks that were not in the store before (what an upload has to send).
    public var newChunks: Int
}

extension ChunkStore {
    /// Cuts `bytes` into chunks of `chunkSize` (the store's setting unless given) and stores them.
    public func putArtifact(_ bytes: [UInt8], chunkSize: Int? = nil) throws(StoreError) -> StoredArtifact {
        let size = chunkSize ?? settings.chunkSize
        var batch = WriteBatch(store: self)
        var chunks: [Key] = []
        var offset = 0
        try bytes.withUnsafeBytes { all in
            Result { () throws(StoreError) in
                while offset < all.count {
                    let piece = UnsafeRawBufferPointer(rebasing: all[offset..<min(offset + size, all.count)])
                    chunks.append(try batch.add(piece))
                    offset += piece.count
                }
            }
        }.get()
        try batch.commit()
        return StoredArtifact(
            size: Int64(bytes.count), chunkSize: Int64(size), key: BLAKE2b.key(of: bytes), chunks: chunks,
            newChunks: batch.added)
    }

    /// Stores the file at `path` as chunks, streaming it through one chunk-sized buffer.
    public func putFile(_ path: String, chunkSize: Int? = nil) throws(StoreError) -> StoredArtifact {
        let size = chunkSize ?? settings.chunkSize
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var batch = WriteBatch(store: self)
        var whole = BLAKE2bHasher()
        var chunks: [Key] = []
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = try FileIO.readFully(fd, into: buffer, path: path)
            if n == 0 { break }
            let piece = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            whole.update(piece)
            chunks.append(try batch.add(piece))
            // Commit every 64 MiB or so, so a long put makes durable progress that a rerun can skip.
            if batch.pendingCount * size >= 64 << 20 { try batch.commit() }
            total += Int64(n)
            if n < size { break }
        }
        try batch.commit()
        return StoredArtifact(size: total, chunkSize: Int64(size), key: whole.finalize(), chunks: chunks, newChunks: batch.added)
    }

    /// Reassembles an artifact, verifying every chunk and then the whole.
    public func artifactBytes(_ artifact: Manifest.Artifact) throws(StoreError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(artifact.size))
        for chunk in stream(artifact.chunks) {
            bytes.append(contentsOf: try chunk.get())
        }
        let actual = BLAKE2b.key(of: bytes)
        guard actual == artifact.key else { throw .keyMismatch(expected: artifact.key, actual: actual) }
        return bytes
    }

    /// Stores a document's canonical bytes under their key.
    @discardableResult
    public func putDocument(_ document: some CanonicalDocument) throws(StoreError) -> Key {
        try put(document.canonicalBytes)
    }

    /// Reads a stored manifest.
    public func manifest(_ key: Key) throws(StoreError) -> Manifest? {
        let bytes = try get(key)
        return try? Manifest.decode(bytes)
    }
}

/// Writes many objects with one filesystem sync instead of one per object.
///
/// The order still makes every rename durable only after its data: all temp files are written, then one
/// `sync` flushes them, then they are renamed into place and the directories are synced. A crash anywhere
/// leaves whole objects or none, never a torn one.
struct WriteBatch {
    let store: ChunkStore
    var pending: [(temp: String, key: Key)] = []
    var planned = Set<Key>()
    var pendingCount: Int { pending.count }
    /// Objects this batch wrote that the store did not have.
    private(set) var added = 0

    init(store: ChunkStore) {
        self.store = store
    }

    mutating func add(_ piece: UnsafeRawBufferPointer) throws(StoreError) -> Key {
        let key = BLAKE2b.key(of: piece)
        if planned.contains(key) || store.has(key) { return key }
        let temp = try store.writeTemporary(piece, key: key, sync: false)
        pending.append((temp, key))
        added += 1
        planned.insert(key)
        return key
    }

    mutating func commit() throws(StoreError) {
        guard !pending.isEmpty else { return }
        // One sync(2) for the whole batch; on Linux it returns once the data is on disk.
        sync()
        var directories = Set<String>()
        for (temp, key) in pending {
            try store.install(temp: temp, as: key)
            directories.insert("\(store.objectsPath)/\(key.hex.prefix(2))")
        }
        for directory in directories.sorted() { try FileIO.fsyncDirectory(directory) }
        pending = []
    }
}
