import ArgumentParser
import BenCore
import BenFiles
import BenIntent
import BenStore
import Glibc

extension Benctl {
    /// `benctl build DIR [-o OUT]`: validate and compile an intent source into a bundle.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate an intent source and compile it into a bundle (a chunk store plus a manifest).",
            discussion: """
                Every problem is reported at once, sorted, as FILE:LINE:COLUMN: FIELD: what is wrong. On any
                problem nothing is written. On success OUT holds the chunk store, OUT/manifest.key names the
                manifest, and the same source always gives the same manifest key.
                """)

        @Argument(help: "The folder of intent files (*.yaml, *.yml), searched recursively.")
        var directory: String

        @Option(name: [.short, .customLong("out")], help: "Where to write the bundle. Replaced whole if it exists.")
        var out: String = "out"

        @Option(name: .long, help: "Chunk size in bytes (default 1 MiB).")
        var chunkSize: Int = 1 << 20

        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard Manifest.Artifact.chunkSizeRange.contains(Int64(chunkSize)) else {
                throw ValidationError("--chunk-size must be between 4096 and 67108864 bytes")
            }
        }

        func run() throws {
            let files = try IntentFiles.read(directory)
            let bundle: CompiledBundle
            switch IntentCompiler.build(files) {
            case .success(let b): bundle = b
            case .failure(let problems):
                for error in problems.errors { FileHandleOutput.standardError(error.description + "\n") }
                let count = problems.errors.count
                throw CommandFailure("\(count) problem\(count == 1 ? "" : "s") in \(directory); nothing was written")
            }
            let (manifest, key) = try write(bundle)
            if output.json {
                let rows: [JSONValue] = manifest.artifacts.map { a in
                    [
                        "name": .string(a.name), "kind": .string(a.kind.rawValue), "roles": .array(a.roles.map { .string($0.rawValue) }),
                        "size": .int(a.size), "chunks": .int(Int64(a.chunks.count)), "key": .string(a.key.hex),
                    ]
                }
                print(try CanonicalJSON.string(["manifest": .string(key.hex), "out": .string(out), "artifacts": .array(rows)]))
                return
            }
            printTable(manifest)
            print("")
            print("manifest \(key.hex)")
            print("wrote \(out) (\(counted(manifest.artifacts.count, "artifact")), \(counted(manifest.totalSize, "byte")))")
        }

        /// Builds the store in a temporary folder beside OUT and puts it in place (`AtomicFile.replace`), so OUT is
        /// either the old bundle or the whole new one, never a half-written one.
        func write(_ bundle: CompiledBundle) throws -> (Manifest, Key) {
            let temp = "\(out).tmp-\(getpid())"
            TextFile.removeTree(temp)
            var done = false
            defer { if !done { TextFile.removeTree(temp) } }
            let manifest: Manifest
            let key: Key
            do {
                let store = try ChunkStore(root: temp, settings: .init(chunkSize: chunkSize))
                var entries: [Manifest.Artifact] = []
                for artifact in bundle.artifacts {
                    let stored = try store.putArtifact(artifact.bytes)
                    entries.append(
                        Manifest.Artifact(
                            name: artifact.name, kind: artifact.kind, roles: artifact.roles, size: stored.size,
                            chunkSize: stored.chunkSize, key: stored.key, chunks: stored.chunks))
                }
                manifest = Manifest(artifacts: entries)
                key = try store.putDocument(manifest)
            } catch {
                throw CommandFailure("\(out): cannot write the bundle: \(error)")
            }
            try TextFile.writeAtomically(key.hex + "\n", to: temp + "/manifest.key")
            let existed = TextFile.exists(out)
            if existed, !TextFile.exists(out + "/manifest.key") {
                throw CommandFailure("\(out) exists and is not a Ben bundle; choose another -o or remove it")
            }
            let old = "\(out).old-\(getpid())"
            do throws(AtomicFileError) {
                if try AtomicFile.replace(out, with: temp, aside: old) { TextFile.removeTree(old) }
            } catch {
                throw CommandFailure("\(out): cannot \(existed ? "replace" : "create"): \(error.reason)")
            }
            done = true
            return (manifest, key)
        }

        func printTable(_ manifest: Manifest) {
            let header = ["ARTIFACT", "KIND", "ROLES", "SIZE", "CHUNKS", "KEY"]
            let rows = manifest.artifacts.map { a in
                [a.name, a.kind.rawValue, a.roles.map(\.rawValue).joined(separator: ","), String(a.size), String(a.chunks.count), a.key.short]
            }
            var widths = header.map(\.count)
            for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, c in
                    let pad = String(repeating: " ", count: widths[i] - c.count)
                    return i == 3 || i == 4 ? pad + c : c + pad
                }.joined(separator: "  ").trimmingTrailingSpaces()
            }
            print(line(header))
            for row in rows { print(line(row)) }
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
