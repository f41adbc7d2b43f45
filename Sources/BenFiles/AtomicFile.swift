import Glibc
import Synchronization
public import SystemPackage

/// Files written whole or not at all, for every Ben process that keeps something on disk: the agent's state, key
/// files, benctl's outputs, the simulator's reports.
///
/// A write goes to a temporary file beside the target (created exclusively, so nothing already there is reused),
/// is written in full and synced, and is then renamed over the target; the folder is synced last, so the new
/// name itself survives a power cut. A reader therefore sees the old file or the new one, never a torn one, and a
/// failure removes the temporary file. Files are opened, written and closed through swift-system's
/// `FileDescriptor`; swift-system has no `fsync`, `fdatasync` or `rename`, so those come from the C library.
public enum AtomicFile {
    /// What `writeTemporary` syncs before it closes the file.
    public enum Sync: Sendable {
        /// The bytes and the file's metadata (`fsync`).
        case all
        /// The bytes (`fdatasync`): enough when the name is made durable by a folder sync afterwards.
        case data
        /// Nothing: for data that may be lost (a cache refilled from elsewhere).
        case none
    }

    /// Writes `bytes` to `path`, replacing whatever is there.
    ///
    /// - Parameter permissions: the mode the new file is created with (less the process's umask).
    /// - Throws: `AtomicFileError` naming the step that failed and the path it failed on.
    public static func write(
        _ bytes: some Collection<UInt8>, to path: String,
        permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]
    ) throws(AtomicFileError) {
        let temp = "\(path).tmp-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)"
        try writeTemporary(bytes, at: temp, permissions: permissions)
        do {
            try rename(temp, to: path)
        } catch {
            unlink(temp)
            throw error
        }
        try syncDirectory(folder(of: path))
    }

    /// The second half of a write: renames the finished `temp` over `path`, syncing nothing (callers that place
    /// many files sync each folder once with `syncDirectory`). The error names `path`.
    public static func rename(_ temp: String, to path: String) throws(AtomicFileError) {
        guard Glibc.rename(temp, path) == 0 else { throw AtomicFileError(.rename, path: path, errno: Errno(rawValue: errno)) }
    }

    /// Puts the finished folder (or file) `temp` where `path` is, so that `path` names the whole old one or the
    /// whole new one: an existing `path` is first renamed to `aside`, and renamed back if the second rename fails;
    /// the parent folder is synced last. The caller removes what was set aside (a folder needs a walk).
    ///
    /// - Returns: whether an old `path` was set aside.
    @discardableResult
    public static func replace(_ path: String, with temp: String, aside: String) throws(AtomicFileError) -> Bool {
        let existed = access(path, F_OK) == 0
        if existed {
            try rename(path, to: aside)
            do {
                try rename(temp, to: path)
            } catch {
                _ = Glibc.rename(aside, path)
                throw error
            }
        } else {
            try rename(temp, to: path)
        }
        try syncDirectory(folder(of: path))
        return existed
    }

    /// The first half of a write, for callers that place the file themselves (the chunk store renames many into
    /// place and syncs each folder once): creates `temp` exclusively, writes every byte and syncs it. On failure
    /// the temporary file is removed. One left over by a crash under the same name is replaced.
    ///
    /// - Parameter sync: what is synced before the file is closed.
    public static func writeTemporary(
        _ bytes: some Collection<UInt8>, at temp: String,
        permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead], sync: Sync = .all
    ) throws(AtomicFileError) {
        let descriptor = try createExclusively(temp, permissions: permissions)
        do throws(AtomicFileError) {
            do {
                _ = try descriptor.writeAll(bytes)
            } catch {
                throw AtomicFileError(.write, path: temp, errno: error)
            }
            let synced: Int32 =
                switch sync {
                case .all: fsync(descriptor.rawValue)
                case .data: fdatasync(descriptor.rawValue)
                case .none: 0
                }
            guard synced == 0 else { throw AtomicFileError(.sync, path: temp, errno: Errno(rawValue: errno)) }
        } catch {
            _ = try? descriptor.close()
            unlink(temp)
            throw error
        }
        do {
            try descriptor.close()
        } catch {
            unlink(temp)
            throw AtomicFileError(.write, path: temp, errno: error)
        }
    }

    /// Writes `text` as UTF-8; see `write(_:to:permissions:)`.
    public static func write(
        _ text: String, to path: String, permissions: FilePermissions = [.ownerReadWrite, .groupRead, .otherRead]
    ) throws(AtomicFileError) {
        try write(Array(text.utf8), to: path, permissions: permissions)
    }

    /// Syncs a folder, so that the names renamed into it are durable.
    public static func syncDirectory(_ path: String) throws(AtomicFileError) {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.directory, .closeOnExec])
        } catch {
            throw AtomicFileError(.openDirectory, path: path, errno: error)
        }
        defer { _ = try? descriptor.close() }
        guard fsync(descriptor.rawValue) == 0 else { throw AtomicFileError(.syncDirectory, path: path, errno: Errno(rawValue: errno)) }
    }

    /// The folder a path is in: `.` for a bare name.
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Numbers temporary files within this process, so that two writes to one path never share a name.
    private static let counter = Atomic<UInt64>(0)

    private static func createExclusively(_ temp: String, permissions: FilePermissions) throws(AtomicFileError) -> FileDescriptor {
        for attempt in 0..<2 {
            do {
                return try FileDescriptor.open(
                    temp, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: permissions)
            } catch Errno.fileExists where attempt == 0 {
                unlink(temp)
            } catch {
                throw AtomicFileError(.create, path: temp, errno: error)
            }
        }
        throw AtomicFileError(.create, path: temp, errno: .fileExists)
    }
}

/// Why an atomic write failed: the step, the path it failed on and the system's error. Each module turns it into its
/// own error type; `description` is a line an operator can act on.
public struct AtomicFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The step of a write, in order.
    public enum Step: String, Sendable, Hashable {
        case create, write, sync, rename
        case openDirectory = "open directory"
        case syncDirectory = "sync directory"
    }

    public var step: Step
    public var path: String
    public var errno: Errno

    public init(_ step: Step, path: String, errno: Errno) {
        self.step = step
        self.path = path
        self.errno = errno
    }

    /// From what a swift-system call threw (always an `Errno`).
    init(_ step: Step, path: String, errno error: any Error) {
        self.init(step, path: path, errno: error as? Errno ?? .ioError)
    }

    /// The C library's text for the error (`Permission denied`).
    public var reason: String { String(cString: strerror(errno.rawValue)) }

    public var description: String { "\(path): cannot \(step.rawValue): \(reason)" }
}
