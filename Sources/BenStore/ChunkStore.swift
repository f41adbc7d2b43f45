public import BenCore
import BenCrypto
import BenFiles
import CFileSync
import Glibc
import Synchronization

/// `ben_store_access`: a content-addressed object store on disk (chunks, manifests, plans).
///
/// Layout under `root`:
/// - `objects/ab/abcdef…`: each object, named by its key (so `b2sum -l 256` on a file prints its name);
/// - `tmp/`: objects being written. A write is temp file, fsync, rename, so an object under a valid name is
///   always whole; whatever a crash leaves in `tmp/` is removed when the store is next opened;
/// - `quarantine/`: objects whose bytes stopped matching their key. They are moved aside on the read that
///   notices, never served again, and kept for inspection.
///
/// Every read verifies the bytes against the key. The store is safe to use from several threads and several
/// processes at once: every change is a rename, and renames are atomic.
public struct ChunkStore: Sendable {
    public let root: String

    public struct Settings: Sendable, Hashable {
        /// Size of the pieces artifacts are cut into: 1 MiB unless the fleet sets otherwise (DESIGN §1).
        public var chunkSize: Int = 1 << 20
        /// Objects larger than this are refused on read, so a planted huge file cannot exhaust memory.
        public var maxObjectBytes: Int = 256 << 20

        public init(chunkSize: Int = 1 << 20, maxObjectBytes: Int = 256 << 20) {
            self.chunkSize = chunkSize
            self.maxObjectBytes = maxObjectBytes
        }
    }

    public let settings: Settings

    var objectsPath: String { root + "/objects" }
    var tmpPath: String { root + "/tmp" }
    var quarantinePath: String { root + "/quarantine" }

    /// Opens (creating if needed) the store at `root`, and clears what interrupted writes left behind.
    public init(root: String, settings: Settings = Settings()) throws(StoreError) {
        self.root = root
        self.settings = settings
        try FileIO.makeDirectory(root)
        try FileIO.makeDirectory(objectsPath)
        try FileIO.makeDirectory(tmpPath)
        try FileIO.makeDirectory(quarantinePath)
        try removeStaleTemporaries()
    }

    /// Temp files whose writer is gone. A temp name carries its writer's pid, so a live writer in another
    /// process keeps its files.
    func removeStaleTemporaries() throws(StoreError) {
        for name in try FileIO.list(tmpPath) {
            let pidText = name.split(separator: ".").first.map(String.init) ?? ""
            if let pid = Int32(pidText), pid > 0, kill(pid, 0) == 0 || errno == EPERM { continue }
            unlink(tmpPath + "/" + name)
        }
    }

    public func path(of key: Key) -> String {
        let hex = key.hex
        return "\(objectsPath)/\(hex.prefix(2))/\(hex)"
    }

    public func has(_ key: Key) -> Bool { FileIO.exists(path(of: key)) }

    // MARK: Writing

    /// Stores `bytes` and returns their key. Storing bytes that are already there writes nothing.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws(StoreError) -> Key {
        let key = BLAKE2b.key(of: bytes)
        try write(bytes, as: key, sync: true)
        return key
    }

    /// Stores bytes that claim to be `key`, after checking that they are: how a relay stores a received chunk.
    public func put(_ bytes: [UInt8], expecting key: Key) throws(StoreError) {
        let actual = BLAKE2b.key(of: bytes)
        guard actual == key else { throw .keyMismatch(expected: key, actual: actual) }
        try write(bytes, as: key, sync: true)
    }

    /// Stores bytes whose key the caller has just computed from these very bytes (a relay hashes a chunk once,
    /// to decide, and stores it without hashing again).
    public func put(_ bytes: [UInt8], hashedAs key: Key) throws(StoreError) {
        try write(bytes, as: key, sync: true)
    }

    /// Stores received bytes whose key the caller has just computed from them, without copying them first and
    /// without waiting for the disk: a relay stores each chunk as it forwards it, and makes the bundle durable
    /// once, before it activates it (`makeDurable`). A chunk lost to a crash before then is refetched: every read
    /// verifies.
    public func put(_ buffer: UnsafeRawBufferPointer, hashedAs key: Key) throws(StoreError) {
        let final = path(of: key)
        if FileIO.exists(final) { return }
        let temp = try writeTemporary(buffer, key: key, sync: false)
        try install(temp: temp, as: key)
    }

    /// Makes everything written to the store so far durable (one `syncfs` of its file system), before a version
    /// whose chunks were stored without waiting is recorded as active.
    public func makeDurable() throws(StoreError) {
        let fd = open(objectsPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: objectsPath, operation: "open", errno: errno) }
        defer { close(fd) }
        guard ben_syncfs(fd) == 0 else { throw .io(path: objectsPath, operation: "syncfs", errno: errno) }
    }

    /// Stores an object whose key the caller has already computed from these very bytes.
    func write(_ bytes: [UInt8], as key: Key, sync: Bool) throws(StoreError) {
        let final = path(of: key)
        if FileIO.exists(final) { return }
        let temp = try writeTemporary(bytes.withUnsafeBytes { $0 }, key: key, sync: sync)
        try install(temp: temp, as: key)
    }

    private static let counter = TempCounter()

    func writeTemporary(_ buffer: UnsafeRawBufferPointer, key: Key, sync: Bool) throws(StoreError) -> String {
        let temp = "\(tmpPath)/\(getpid()).\(Self.counter.next()).\(key.short)"
        do {
            try AtomicFile.writeTemporary(buffer, at: temp, sync: sync ? .data : .none)
        } catch {
            throw .io(path: error.path, operation: error.step == .sync ? "fdatasync" : error.step.rawValue, errno: error.errno.rawValue)
        }
        return temp
    }

    /// Renames a finished temp file into place. The fan-out directory is made on demand.
    func install(temp: String, as key: Key) throws(StoreError) {
        let final = path(of: key)
        let directory = "\(objectsPath)/\(key.hex.prefix(2))"
        do throws(AtomicFileError) {
            try AtomicFile.rename(temp, to: final)
        } catch where error.errno == .noSuchFileOrDirectory {
            try FileIO.makeDirectory(directory)
            try FileIO.rename(temp, to: final, operation: "rename into place")
        } catch {
            throw .io(path: final, operation: "rename into place", errno: error.errno.rawValue)
        }
    }

    // MARK: Reading

    /// The object's bytes, verified against its key. A mismatch quarantines the object and throws `.corrupt`.
    public func get(_ key: Key) throws(StoreError) -> [UInt8] {
        let file = path(of: key)
        guard let bytes = try FileIO.readFile(file, maxBytes: settings.maxObjectBytes) else { throw .notFound(key: key) }
        guard BLAKE2b.key(of: bytes) == key else {
            throw .corrupt(key: key, quarantinedAt: try quarantine(key))
        }
        return bytes
    }

    /// Moves a bad object out of `objects/`, so it is never served again, and returns where it went.
    @discardableResult
    public func quarantine(_ key: Key) throws(StoreError) -> String {
        let destination = "\(quarantinePath)/\(key.hex).\(getpid()).\(Self.counter.next())"
        do throws(AtomicFileError) {
            try AtomicFile.rename(path(of: key), to: destination)
        } catch {
            throw .io(path: path(of: key), operation: "quarantine", errno: error.errno.rawValue)
        }
        return destination
    }

    /// Reads the chunks `keys` one at a time, each verified before it is handed out, so an artifact of any size
    /// streams through a fixed amount of memory.
    public func stream(_ keys: [Key]) -> ChunkStream { ChunkStream(store: self, keys: keys) }

    /// Every key in the store.
    public func allKeys() throws(StoreError) -> [Key] {
        var keys: [Key] = []
        for shard in try FileIO.list(objectsPath) {
            for name in try FileIO.list("\(objectsPath)/\(shard)") {
                if let key = Key(hex: name), name.hasPrefix(shard) { keys.append(key) }
            }
        }
        return keys.sorted()
    }

    /// Files under `objects/` whose names are not keys (left by hand or by another program).
    public func strayFiles() throws(StoreError) -> [String] {
        var stray: [String] = []
        for shard in try FileIO.list(objectsPath) {
            for name in try FileIO.list("\(objectsPath)/\(shard)") where Key(hex: name) == nil || !name.hasPrefix(shard) {
                stray.append("\(objectsPath)/\(shard)/\(name)")
            }
        }
        return stray.sorted()
    }
}

/// Verified chunks of a stored artifact, in order.
public struct ChunkStream: Sequence, IteratorProtocol, Sendable {
    let store: ChunkStore
    let keys: [Key]
    var index = 0

    public mutating func next() -> Result<[UInt8], StoreError>? {
        guard index < keys.count else { return nil }
        defer { index += 1 }
        do { return .success(try store.get(keys[index])) } catch { return .failure(error) }
    }
}

/// Unique temp-file numbers within a process.
final class TempCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}
