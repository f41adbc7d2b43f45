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

/// Writes `text` to `path`, replacing it.
///
/// - Throws: `SimError` with code `output` naming the path.
public func writeTextFile(_ path: String, _ text: String) throws(SimError) {
    guard let f = fopen(path, "wb") else {
        throw SimError(.output, file: path, problem: "cannot open for writing (errno \(errno))", fix: "check the folder exists and is writable")
    }
    defer { fclose(f) }
    let bytes = Array(text.utf8)
    guard fwrite(bytes, 1, bytes.count, f) == bytes.count else {
        throw SimError(.output, file: path, problem: "could not write every byte", fix: "check the disk has room")
    }
}
