import BenFiles
import Glibc
import SystemPackage

/// Small file helpers for the CLI: outputs are written whole or not at all (`AtomicFile`: temp file, fsync, rename,
/// folder fsync), so an interrupted command never leaves a half-written file behind.
enum TextFile {
    static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644) throws {
        try writeAtomically(Array(text.utf8), to: path, mode: mode)
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        do {
            try AtomicFile.write(bytes, to: path, permissions: FilePermissions(rawValue: mode))
        } catch {
            throw CommandFailure("\(path): cannot \(error.step == .create ? "create" : "write"): \(error.reason)")
        }
    }

    /// The whole file (`-`: standard input); refuses files over `maxBytes`.
    static func readBytes(_ path: String, maxBytes: Int = 16 << 20) throws -> [UInt8] {
        if path == "-" { return try readAll(0, path: path, maxBytes: maxBytes) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandFailure("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try readAll(fd, path: path, maxBytes: maxBytes)
    }

    /// The whole file as UTF-8 text; a missing or unreadable file is one CLI line that names it.
    static func read(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandFailure("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let text = String(validating: try readAll(fd, path: path, maxBytes: .max), as: UTF8.self) else {
            throw CommandFailure("\(path): not UTF-8 text; save the topology as UTF-8")
        }
        return text
    }

    private static func readAll(_ fd: Int32, path: String, maxBytes: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandFailure("\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > maxBytes { throw CommandFailure("\(path): larger than \(maxBytes) bytes; refused") }
        }
        return bytes
    }

    /// Removes a directory tree (what a failed build leaves in its temporary folder).
    static func removeTree(_ path: String) {
        guard let dir = opendir(path) else {
            unlink(path)
            return
        }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        for name in names {
            let full = path + "/" + name
            if isDirectory(full) { removeTree(full) } else { unlink(full) }
        }
        rmdir(path)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
