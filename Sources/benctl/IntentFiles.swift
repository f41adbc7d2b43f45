import BenIntent
import Glibc

/// Reads an intent source directory: every `*.yaml` and `*.yml` file under it, recursively, skipping hidden
/// files and folders, in path order. Paths are given as the operator wrote the directory plus the relative
/// path, so errors point at files they can open.
enum IntentFiles {
    static func read(_ directory: String) throws -> [IntentSourceFile] {
        guard TextFile.isDirectory(directory) else {
            throw CommandFailure("\(directory): not a directory; give the folder that holds your intent files")
        }
        var out: [IntentSourceFile] = []
        try walk(directory, into: &out)
        return out.sorted { $0.path < $1.path }
    }

    static func walk(_ path: String, into out: inout [IntentSourceFile]) throws {
        guard let dir = opendir(path) else {
            throw CommandFailure("\(path): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        for name in names.sorted() {
            let full = path.hasSuffix("/") ? path + name : path + "/" + name
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                // Real folders only: a symbolic link to a folder could loop back on itself.
                try walk(full, into: &out)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                out.append(IntentSourceFile(path: full, text: try TextFile.read(full)))
            }
        }
    }
}
