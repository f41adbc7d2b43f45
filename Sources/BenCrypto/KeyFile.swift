import BenCore
import BenFiles
import Glibc

/// Ed25519 key files: exactly the 32-byte seed, mode 0600.
///
/// A key file that others can read is refused rather than used, because a leaked ledger or node key lets anyone
/// forge announcements or acks; the error says which `chmod` fixes it.
public enum KeyFile {
    /// Writes `key`'s seed to `path` with mode 0600, atomically (`AtomicFile`). Refuses to replace
    /// an existing file unless `overwrite` is set, so a keygen typo cannot destroy a key.
    public static func write(_ key: SigningKey, to path: String, overwrite: Bool = false) throws(KeyFileError) {
        if !overwrite && access(path, F_OK) == 0 { throw .exists(path: path) }
        do {
            try AtomicFile.write(key.seed, to: path, permissions: .ownerReadWrite)
        } catch {
            throw .io(path: path, operation: error.step.rawValue, errno: error.errno.rawValue)
        }
    }

    /// Whether `path` names a directory (a key file was expected: say so rather than "cannot read").
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Reads a key file, refusing one that group or others can read or write.
    public static func read(_ path: String) throws(KeyFileError) -> SigningKey {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io(path: path, operation: "open", errno: errno) }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw .isDirectory(path: path) }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: UInt32(mode)) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 33)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 33) }
        guard n == 32, let key = SigningKey(seed: Array(buffer.prefix(32))) else {
            throw .malformed(path: path, size: max(n, 0))
        }
        return key
    }
}

/// A key file could not be written or used.
public enum KeyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    case exists(path: String)
    case isDirectory(path: String)
    case tooOpen(path: String, mode: UInt32)
    case malformed(path: String, size: Int)
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .exists(let path):
            "\(path): a file is already there; choose another path or remove it first (keys are never overwritten)"
        case .isDirectory(let path):
            "\(path): is a directory; give the key file itself"
        case .tooOpen(let path, let mode):
            "\(path): key file is readable or writable by group or others (mode \(String(mode, radix: 8))); "
                + "run `chmod 600 \(path)`"
        case .malformed(let path, let size):
            "\(path): a key file holds exactly a 32-byte Ed25519 seed, this one has \(size >= 33 ? "more than 32" : String(size)) bytes; "
                + "make a new one with `benctl keygen --out \(path)`"
        case .io(let path, let operation, let code):
            "\(path): cannot \(operation): \(String(cString: strerror(code)))"
        }
    }
}
