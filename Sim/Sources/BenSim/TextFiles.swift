import BenFiles
import Glibc

/// Reads a whole text file; nil when it cannot be read.
func readTextFile(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
        if n < buffer.count { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `text` to `path`, replacing it whole (`AtomicFile`): the bytes go to a temporary file beside it, which is
/// renamed over `path` only once every byte is written and synced, so a failure never leaves a half-written report.
/// The folder is made if it does not exist.
///
/// - Throws: `SimError` with code `output` naming the path.
public func writeTextFile(_ path: String, _ text: String) throws(SimError) {
    try prepareOutput(path)
    do {
        try AtomicFile.write(text, to: path)
    } catch {
        switch error.step {
        case .create:
            throw SimError(.output, file: path, problem: "cannot open for writing (errno \(error.errno.rawValue))", fix: "check the folder is writable")
        case .write, .sync:
            throw SimError(.output, file: path, problem: "could not write every byte", fix: "check the disk has room")
        case .rename, .openDirectory, .syncDirectory:
            throw SimError(.output, file: path, problem: "cannot replace the file (errno \(error.errno.rawValue))", fix: "check the folder is writable")
        }
    }
}

/// Makes the folder `path` will be written in, and checks it is writable: called before a long run, so a
/// mistyped output path fails at once rather than after the run.
///
/// - Throws: `SimError` with code `output` naming the path.
public func prepareOutput(_ path: String) throws(SimError) {
    var folder = ""
    if let slash = path.lastIndex(of: "/") { folder = String(path[..<slash]) }
    if folder.isEmpty { folder = path.hasPrefix("/") ? "/" : "." }
    var made = folder.hasPrefix("/") ? "/" : ""
    for part in folder.split(separator: "/") {
        made += (made.isEmpty || made.hasSuffix("/") ? "" : "/") + part
        if mkdir(made, 0o755) != 0 && errno != EEXIST {
            throw SimError(.output, file: path, problem: "cannot make the folder \(made) (errno \(errno))", fix: "check the path")
        }
    }
    var info = stat()
    guard stat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
        throw SimError(.output, file: path, problem: "\(folder) is not a folder", fix: "check the path")
    }
    guard access(folder, W_OK) == 0 else {
        throw SimError(.output, file: path, problem: "the folder \(folder) is not writable", fix: "choose another path or fix its permissions")
    }
}
