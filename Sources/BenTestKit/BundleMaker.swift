public import BenCore
import BenCrypto
import BenStore
import Foundation

/// Bundles big enough to measure bandwidth: the example intent (built by the real `benctl build`) plus one
/// payload artifact of random bytes, for a role no node in the test fleet has (so every node relays and stores
/// it, and none tries to compile it).
public enum BundleMaker {
    /// Writes the bundle folder and returns its manifest key (also in `folder/manifest.key`, as build writes it).
    public static func bundle(
        intent: String, folder: String, payloadBytes: Int, chunkSize: Int = 1 << 20, payloadRoles: [Role] = [.dataMigrator],
        seed: UInt64 = 1
    ) async throws -> Key {
        let built = try await ProcessRunner.run(ProcessRunner.product("benctl"), ["build", intent, "-o", folder, "--chunk-size", "\(chunkSize)"])
        guard built.status == 0 else { throw LocalFleetError("benctl build failed: \(built.stderr)") }
        let store = try ChunkStore(root: folder, settings: .init(chunkSize: chunkSize))
        let keyText = try String(contentsOfFile: folder + "/manifest.key", encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        guard let key = Key(hex: keyText), let manifest = try store.manifest(key) else { throw LocalFleetError("no manifest in \(folder)") }
        var generator = SeededGenerator(seed: seed)
        let payload = generator.bytes(payloadBytes)
        let stored = try store.putArtifact(payload, chunkSize: chunkSize)
        let artifact = Manifest.Artifact(
            name: "payload/blob", kind: .contract, roles: payloadRoles, size: stored.size, chunkSize: stored.chunkSize, key: stored.key,
            chunks: stored.chunks)
        let bigger = Manifest(artifacts: manifest.artifacts + [artifact])
        let newKey = try store.putDocument(bigger)
        try (newKey.hex + "\n").write(toFile: folder + "/manifest.key", atomically: true, encoding: .utf8)
        return newKey
    }
}
