import ArgumentParser
import BenCore
import BenStore

extension Benctl {
    /// `benctl store …`: inspect and maintain a chunk store directory.
    struct Store: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect and maintain a chunk store (ben_store_access) on disk.",
            subcommands: [Put.self, Verify.self, GC.self])

        /// `benctl store verify DIR`: hash every object; list the bad ones; exit 1 if any.
        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check every object in a store against its key. Corrupt objects are quarantined.")

            @OptionGroup var store: StoreDirectoryArgument
            @OptionGroup var output: OutputOptions

            func run() throws {
                let directory = store.directory
                guard TextFile.isDirectory(directory) else {
                    throw CommandFailure("\(directory): not a directory; give the path of a Ben chunk store")
                }
                let result: (checked: Int, bad: [BadObject])
                do {
                    result = try ChunkStore(root: directory).verifyAll()
                } catch {
                    throw CommandFailure(error)
                }
                let bad = result.bad.map { ["path": .string($0.path), "problem": .string($0.problem)] as JSONValue }
                try output.show(["checked": .int(Int64(result.checked)), "bad": .array(bad)]) {
                    if result.bad.isEmpty {
                        print("\(counted(result.checked, "object")) checked in \(directory): all match their keys")
                    } else {
                        print("\(counted(result.checked, "object")) checked in \(directory): \(result.bad.count) bad")
                        for object in result.bad { print("  \(object.path): \(object.problem)") }
                    }
                }
                if !result.bad.isEmpty { throw ExitCode(1) }
            }
        }
    
        /// `benctl store put --store DIR FILE…`: chunk files into a store and print their keys.
        struct Put: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Chunk files into a store; prints each file's key and chunk count.")

            @Option(name: .long, help: "The store directory (created if missing).")
            var store: String

            @Option(name: .long, help: "Chunk size in bytes (default 1 MiB).")
            var chunkSize: Int = 1 << 20

            @Argument(help: "Files to store.")
            var files: [String]

            @OptionGroup var output: OutputOptions

            func validate() throws {
                guard (4096...(64 << 20)).contains(chunkSize) else {
                    throw ValidationError("--chunk-size must be between 4096 and 67108864 bytes")
                }
            }

            func run() throws {
                let chunkStore: ChunkStore
                do { chunkStore = try ChunkStore(root: store) } catch { throw CommandFailure(error) }
                var rows: [JSONValue] = []
                for file in files {
                    let stored: StoredArtifact
                    do { stored = try chunkStore.putFile(file, chunkSize: chunkSize) } catch { throw CommandFailure(error) }
                    if output.json {
                        rows.append([
                            "file": .string(file), "key": .string(stored.key.hex), "size": .int(stored.size),
                            "chunks": .array(stored.chunks.map { .string($0.hex) }), "new_chunks": .int(Int64(stored.newChunks)),
                        ])
                    } else {
                        print("\(stored.key.hex)  \(file)  (\(counted(stored.size, "byte")), \(counted(stored.chunks.count, "chunk")), \(stored.newChunks) new)")
                    }
                }
                if output.json { print(try CanonicalJSON.string(.array(rows))) }
            }
        }

        /// `benctl store gc DIR --keep KEY…`: remove what no kept manifest references.
        struct GC: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "gc",
                abstract: "Remove objects that no kept manifest references. Refuses to run if a kept key is missing.")

            @OptionGroup var store: StoreDirectoryArgument

            @Option(name: .long, parsing: .upToNextOption, help: "Keys of manifests (or other objects) to keep.")
            var keep: [String] = []

            @OptionGroup var output: OutputOptions

            func run() throws {
                var roots: [Key] = []
                for text in keep {
                    guard let key = Key(hex: text) else {
                        throw CommandFailure("--keep \(text): not a key; expected 64 lowercase hex digits")
                    }
                    roots.append(key)
                }
                let report: CollectionReport
                do { report = try ChunkStore(root: store.directory).collectGarbage(keeping: roots) } catch { throw CommandFailure(error) }
                let removed = report.removed.map { JSONValue.string($0.hex) }
                try output.show(["kept": .int(Int64(report.kept)), "removed": .array(removed), "bytes_freed": .int(report.bytesFreed)]) {
                    print("kept \(counted(report.kept, "object")), removed \(report.removed.count) (\(counted(report.bytesFreed, "byte")))")
                }
            }
        }
    }
}
