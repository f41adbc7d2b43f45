import BenFiles
import Glibc

/// Thin POSIX helpers for the store: it needs exact control of fsync, rename and O_EXCL, which is why it does
/// not go through Foundation's FileManager. Writing and syncing are `AtomicFile`'s, shared with every other writer.
enum FileIO {
    /// Creates `path` and any missing parents.
    static func makeDirectory(_ path: String) throws(StoreError) {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash > path.startIndex else {
            throw .io(path: path, operation: "create directory", errno: errno)
        }
        try makeDirectory(String(path[..<slash]))
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw .io(path: path, operation: "create directory", errno: errno) }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Reads up to `buffer.count` bytes, retrying short reads until EOF; returns how many were read.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(StoreError) -> Int {
        var offset = 0
        while offset < buffer.count {
            let n = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            offset += n
        }
        return offset
    }

    static func readFile(_ path: String, maxBytes: Int) throws(StoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .io(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        let size = Int(info.st_size)
        guard size <= maxBytes else { throw .io(path: path, operation: "read (larger than \(maxBytes) bytes)", errno: EFBIG) }
        var bytes = [UInt8](repeating: 0, count: size)
        let n = try bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(StoreError) in try readFully(fd, into: buffer, path: path) }
        }.get()
        if n < size { bytes.removeLast(size - n) }
        return bytes
    }

    /// `AtomicFile.rename`, its error as the store's, naming `to`.
    static func rename(_ from: String, to: String, operation: String) throws(StoreError) {
        do {
            try AtomicFile.rename(from, to: to)
        } catch {
            throw .io(path: to, operation: operation, errno: error.errno.rawValue)
        }
    }

    static func fsyncDirectory(_ path: String) throws(StoreError) {
        do {
            try AtomicFile.syncDirectory(path)
        } catch {
            throw .io(path: path, operation: error.step == .openDirectory ? "open directory" : "fsync directory", errno: error.errno.rawValue)
        }
    }

    /// Names in a directory, without "." and "..".
    static func list(_ path: String) throws(StoreError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw .io(path: path, operation: "list", errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
