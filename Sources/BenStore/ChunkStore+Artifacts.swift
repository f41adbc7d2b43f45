public import BenCore
import BenCrypto
import Dispatch
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

    /// Stores the file at `path` as chunks, streaming it through two chunk-sized buffers.
    ///
    /// The whole file's key is computed on a second thread while this one hashes and writes each chunk, so a
    /// large put costs about one hashing pass of wall time, not two.
    public func putFile(_ path: String, chunkSize: Int? = nil) throws(StoreError) -> StoredArtifact {
        let size = chunkSize ?? settings.chunkSize
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        var batch = WriteBatch(store: self)
        let whole = BackgroundHasher(bufferSize: size)
        var chunks: [Key] = []
        var total: Int64 = 0
        var turn = 0
        defer { whole.drain() }
        while true {
            let buffer = whole.acquire(turn)
            let n = try FileIO.readFully(fd, into: buffer, path: path)
            if n == 0 { break }
            let piece = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            whole.hash(turn, count: n)
            chunks.append(try batch.add(piece))
            // Commit every 64 MiB or so, so a long put makes durable progress that a rerun can skip.
            if batch.pendingCount * size >= 64 << 20 { try batch.commit() }
            total += Int64(n)
            turn += 1
            if n < size { break }
        }
        try batch.commit()
        return StoredArtifact(size: total, chunkSize: Int64(size), key: whole.finish(), chunks: chunks, newChunks: batch.added)
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

/// Writes many objects and makes their names durable with one directory sync per shard instead of one per
/// object.
///
/// Each temp file's data is synced (fdatasync) before it is renamed into place, so a name never points at
/// bytes that are not on disk; the directories are synced at commit. A crash anywhere leaves whole objects or
/// none, never a torn one.
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
        let temp = try store.writeTemporary(piece, key: key, sync: true)
        pending.append((temp, key))
        added += 1
        planned.insert(key)
        return key
    }

    mutating func commit() throws(StoreError) {
        guard !pending.isEmpty else { return }
        var directories = Set<String>()
        for (temp, key) in pending {
            try store.install(temp: temp, as: key)
            directories.insert("\(store.objectsPath)/\(key.hex.prefix(2))")
        }
        for directory in directories.sorted() { try FileIO.fsyncDirectory(directory) }
        pending = []
    }
}

/// Hashes a stream of buffers on its own thread, in order, while the caller reuses the other buffer.
///
/// Two buffers alternate: the caller fills buffer `turn % 2`, hands it over with `hash`, and may touch it
/// again (read-only) while it is hashed; `acquire` waits until the hasher is done with a buffer before the
/// caller overwrites it. `@unchecked Sendable`: the buffers and the hasher are only touched under that
/// hand-over protocol, and the hasher only on the serial queue.
final class BackgroundHasher: @unchecked Sendable {
    private let queue = DispatchQueue(label: "ben.store.hash")
    private let buffers: [UnsafeMutableRawBufferPointer]
    // Made at 0 and signalled once: libdispatch traps if a semaphore dies below its initial value, and the
    // last buffer acquired is never handed back.
    private let free = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
    private var hasher = BLAKE2bHasher()
    private var drained = false

    init(bufferSize: Int) {
        buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64) }
        for semaphore in free { semaphore.signal() }
    }

    /// Buffer for this turn, once the hasher has finished with it.
    func acquire(_ turn: Int) -> UnsafeMutableRawBufferPointer {
        free[turn % 2].wait()
        return buffers[turn % 2]
    }

    /// Hashes the first `count` bytes of this turn's buffer, in order after the previous turns.
    func hash(_ turn: Int, count: Int) {
        let index = turn % 2
        queue.async {
            self.hasher.update(UnsafeRawBufferPointer(rebasing: self.buffers[index][0..<count]))
            self.free[index].signal()
        }
    }

    /// The key of everything handed over.
    func finish() -> Key {
        queue.sync { hasher.finish() }
    }

    /// Waits for outstanding work; called before the buffers go.
    func drain() {
        queue.sync {}
        drained = true
    }

    deinit {
        if !drained { queue.sync {} }
        for buffer in buffers { buffer.deallocate() }
    }
}

extension ChunkStore {
    /// What this store holds of a bundle: its manifest (if stored and readable) and which chunks are present.
    /// Presence is checked by name only; every chunk is verified again when it is read.
    public func holdings(of manifestKey: Key) -> (manifest: Manifest, have: [Bool])? {
        guard has(manifestKey), let manifest = try? manifest(manifestKey) else { return nil }
        return (manifest, manifest.chunkKeys.map(has))
    }
}
