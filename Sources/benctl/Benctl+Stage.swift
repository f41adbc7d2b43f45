import ArgumentParser
import BenCore
import BenIntent
import BenStore
import Foundation

extension Benctl {
    /// `benctl stage DIR|BUNDLE`: uploads what the ledger's store lacks and gives the bundle a version.
    /// Nothing is deployed.
    struct Stage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stage intent with the ledger: upload the chunks its store lacks and get a version. Deploys nothing.",
            discussion: "DIR is an intent source folder (built first) or a bundle folder written by `benctl build -o`.")

        @Argument(help: "An intent source folder, or a bundle folder from `benctl build -o`.")
        var path: String

        @Option(name: .long, help: "A label for the version (default: the folder's name).")
        var label: String?

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let bundle = try BundleFolder.open(path)
            let (manifestBytes, manifest) = try bundle.manifest()
            let label = label ?? String(path.split(separator: "/").last ?? "")
            let answer = try await ledger.withClient { client in
                let begun = try await client.call("stage.begin", args: ["label": .string(label)], body: manifestBytes)
                let missing = (begun["missing"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Key.init(hex:)) }
                var sizes: [Key: Int64] = [:]
                for artifact in manifest.artifacts {
                    for (i, key) in artifact.chunks.enumerated() { sizes[key] = artifact.chunkLength(i) }
                }
                let total = missing.reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
                var bar = ProgressBar("uploading", total: total)
                var sent: Int64 = 0
                for key in missing {
                    let bytes: [UInt8]
                    do { bytes = try bundle.store.get(key) } catch { throw CommandFailure("\(path): \(error)") }
                    var offset = 0
                    repeat {
                        let part = Array(bytes[offset..<min(bytes.count, offset + OperatorAPI.maxPartBytes)])
                        _ = try await client.call(
                            "stage.chunk", args: ["key": .string(key.hex), "offset": .int(Int64(offset)), "total": .int(Int64(bytes.count))],
                            body: part)
                        offset += part.count
                        sent += Int64(part.count)
                        bar.update(sent, detail: "\(ByteCount(sent)) of \(ByteCount(total))")
                    } while offset < bytes.count
                }
                bar.finish()
                var committed = try await client.call(
                    "stage.commit", args: ["manifest": .string(begun["manifest"]?.stringValue ?? ""), "label": .string(label)])
                if case .object(var o) = committed {
                    o["uploaded_chunks"] = .int(Int64(missing.count))
                    o["uploaded_bytes"] = .int(total)
                    o["chunks"] = .int(Int64(manifest.chunkKeys.count))
                    committed = .object(o)
                }
                return committed
            }
            try output.show(answer) {
                let version = answer["version"]?.intValue ?? 0
                let uploaded = answer["uploaded_chunks"]?.intValue ?? 0
                let fresh = answer["new"]?.boolValue == true ? "staged" : "already staged as"
                print("\(fresh) v\(version): manifest \(answer["manifest"]?.stringValue ?? "?")")
                print("  \(uploaded) of \(counted(answer["chunks"]?.intValue ?? 0, "chunk")) uploaded (\(ByteCount(answer["uploaded_bytes"]?.intValue ?? 0))), the rest were already in the ledger's store")
            }
        }
    }
}

/// A bundle on disk: a folder `benctl build -o` wrote (a chunk store with `manifest.key`), or an intent source
/// folder, built into a temporary bundle first.
struct BundleFolder {
    let store: ChunkStore
    let manifestKey: Key
    let temporary: String?

    static func open(_ path: String) throws -> BundleFolder {
        guard TextFile.isDirectory(path) else { throw CommandFailure("\(path): not a folder; give an intent source folder or a bundle folder") }
        if TextFile.exists(path + "/manifest.key") {
            let text = try TextFile.read(path + "/manifest.key")
            guard let key = Key(hex: text.split(separator: "\n").first.map(String.init) ?? "") else {
                throw CommandFailure("\(path)/manifest.key: not a key; rebuild with `benctl build -o \(path)`")
            }
            do { return BundleFolder(store: try ChunkStore(root: path), manifestKey: key, temporary: nil) } catch { throw CommandFailure("\(path): \(error)") }
        }
        let output = "/tmp/benctl-stage-\(getpid())"
        let key = try IntentBuild.buildFolder(path, into: output)
        do { return BundleFolder(store: try ChunkStore(root: output), manifestKey: key, temporary: output) } catch { throw CommandFailure("\(output): \(error)") }
    }

    func manifest() throws -> ([UInt8], Manifest) {
        do {
            let bytes = try store.get(manifestKey)
            return (bytes, try Manifest.decode(bytes))
        } catch {
            throw CommandFailure("the bundle's manifest \(manifestKey.short) is unreadable: \(error)")
        }
    }
}

/// Bytes as people read them.
struct ByteCount: CustomStringConvertible {
    let bytes: Int64
    init(_ bytes: Int64) { self.bytes = bytes }

    var description: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// Building an intent folder for verbs that take one (stage), with build's own checks and errors.
enum IntentBuild {
    /// Validates and compiles `folder` into a bundle at `output`; returns the manifest key.
    static func buildFolder(_ folder: String, into output: String) throws -> Key {
        let build = try Benctl.Build.parse([folder, "-o", output])
        let files = try IntentFiles.read(folder)
        switch IntentCompiler.build(files) {
        case .success(let bundle):
            return try build.write(bundle).1
        case .failure(let problems):
            for error in problems.errors { FileHandleOutput.standardError(error.description + "\n") }
            let count = problems.errors.count
            throw CommandFailure("\(count) problem\(count == 1 ? "" : "s") in \(folder); nothing was staged")
        }
    }
}
