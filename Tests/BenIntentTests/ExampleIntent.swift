import BenCore
import BenIntent
import BenTestKit
import Foundation

/// The repository's examples/intent, read the way benctl reads a source directory.
enum ExampleIntent {
    static var directory: String { ProcessRunner.repositoryRoot() + "/examples/intent" }

    static func files(in directory: String = directory) throws -> [IntentSourceFile] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var out: [IntentSourceFile] = []
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let text = try String(contentsOfFile: directory + "/" + relative, encoding: .utf8)
            out.append(IntentSourceFile(path: relative, text: text))
        }
        return out.sorted { $0.path < $1.path }
    }

    static func bundle(_ files: [IntentSourceFile]) throws -> CompiledBundle {
        try IntentCompiler.build(files).get()
    }

    static func request(_ name: String) throws -> JSONValue {
        let text = try String(contentsOfFile: ProcessRunner.repositoryRoot() + "/examples/requests/\(name)", encoding: .utf8)
        return try JSONParser.parse(text)
    }

    static func replacing(_ files: [IntentSourceFile], in path: String, _ old: String, with new: String) -> [IntentSourceFile] {
        files.map { f in
            guard f.path == path else { return f }
            precondition(f.text.contains(old), "\(path) does not contain \(old)")
            return IntentSourceFile(path: f.path, text: f.text.replacingOccurrences(of: old, with: new))
        }
    }
}
