public import BenCore
import BenCrypto
import Glibc

/// One object that failed verification.
public struct BadObject: Sendable, Hashable {
    public var path: String
    public var problem: String
}

/// What a garbage collection did.
public struct CollectionReport: Sendable, Hashable {
    public var kept: Int
    public var removed: [Key]
    public var bytesFreed: Int64
}

extension ChunkStore {
    /// Reads and hashes every object. Corrupt objects are quarantined; stray files are reported.
    public func verifyAll() throws(StoreError) -> (checked: Int, bad: [BadObject]) {
        var bad: [BadObject] = []
        let keys = try allKeys()
        for key in keys {
            do {
                _ = try get(key)
            } catch let error {
                bad.append(BadObject(path: path(of: key), problem: error.description))
            }
        }
        for file in try strayFiles() {
            bad.append(BadObject(path: file, problem: "the file name is not a key of this store (64 hex digits in the right folder)"))
        }
        return (keys.count, bad)
    }

    /// Removes every object not reachable from `roots`: the roots themselves (manifests, plans) and, for roots
    /// that are manifests, every chunk they list.
    ///
    /// A root that is missing or unreadable is an error and nothing is removed: collecting with a broken root
    /// would delete chunks a live version needs.
    public func collectGarbage(keeping roots: [Key], alsoKeep extra: Set<Key> = []) throws(StoreError) -> CollectionReport {
        var live = extra
        for root in roots {
            let bytes = try get(root)
            live.insert(root)
            if let manifest = try? Manifest.decode(bytes) {
                for artifact in manifest.artifacts { live.formUnion(artifact.chunks) }
            }
        }
        var removed: [Key] = []
        var freed: Int64 = 0
        var kept = 0
        for key in try allKeys() {
            if live.contains(key) {
                kept += 1
                continue
            }
            var info = stat()
            if stat(path(of: key), &info) == 0 { freed += Int64(info.st_size) }
            guard unlink(path(of: key)) == 0 || errno == ENOENT else {
                throw .io(path: path(of: key), operation: "remove", errno: errno)
            }
            removed.append(key)
        }
        return CollectionReport(kept: kept, removed: removed, bytesFreed: freed)
    }
}
