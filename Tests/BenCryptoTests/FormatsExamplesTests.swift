import BenCore
import BenCrypto
import BenStore
import BenTestKit
import Foundation
import Testing

/// docs/formats.md's worked examples were made by docs/examples/make_examples.py with Python's own JSON,
/// BLAKE2b and Ed25519. Ben rebuilds the same documents here; the bytes must be identical.
@Suite struct FormatsExamplesTests {
    let dir = ProcessRunner.repositoryRoot() + "/docs/examples"

    func file(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)"))) }

    var ledger: SigningKey { SigningKey(seed: Array(0..<32))! }
    var node: SigningKey { SigningKey(seed: Array(32..<64))! }

    func manifest() throws -> Manifest {
        let artifact = (0..<5000).map { UInt8($0 % 251) }
        let dirStore = try TemporaryDirectory()
        let stored = try ChunkStore(root: dirStore.path).putArtifact(artifact, chunkSize: 4096)
        return Manifest(artifacts: [
            .init(name: "policy/edge", kind: .policyPack, roles: [.spine, .proxy], size: stored.size, chunkSize: stored.chunkSize, key: stored.key, chunks: stored.chunks)
        ])
    }

    @Test func chunksAndManifestMatchByteForByte() throws {
        let manifest = try manifest()
        #expect(manifest.canonicalBytes == (try file("manifest.json")))
        for (i, key) in manifest.artifacts[0].chunks.enumerated() {
            #expect(BLAKE2b.key(of: try file("chunk-\(i).bin")) == key)
        }
    }

    @Test func signedAnnouncementAckAndAggregateMatchByteForByte() throws {
        let manifest = try manifest()
        let manifestKey = BLAKE2b.key(of: manifest)
        let announcement = Announcement(
            fleet: FleetName("demo")!, version: 7, manifest: manifestKey, manifestSize: Int64(manifest.canonicalBytes.count),
            plan: BLAKE2b.key(of: Array("example plan".utf8)), topology: BLAKE2b.key(of: Array("example topology".utf8)),
            issuedAt: Timestamp(rfc3339: "2026-11-27T12:00:00Z")!, deadline: Timestamp(rfc3339: "2026-11-27T12:02:00Z")!,
            expires: Timestamp(rfc3339: "2026-11-28T12:02:00Z")!, ledger: "127.0.0.1:7400", epoch: 3)
        #expect(ledger.envelope(announcement, context: .announce).canonicalBytes == (try file("announcement.json")))

        let ack = Ack(
            fleet: FleetName("demo")!, version: 7, node: "proxy-1", manifest: manifestKey, status: .active, reason: "",
            at: Timestamp(rfc3339: "2026-11-27T12:00:03.250Z")!)
        let ackEnvelope = node.envelope(ack, context: .ack)
        #expect(ackEnvelope.canonicalBytes == (try file("ack.json")))

        let aggregate = Aggregate(
            fleet: FleetName("demo")!, version: 7, relay: "proxy-1", acks: [ackEnvelope],
            missing: [.init(node: "proxy-2", reason: MissingReason(.unreachable, "connection refused"))])
        #expect(aggregate.canonicalBytes == (try file("aggregate.json")))

        let keys = String(decoding: try file("keys.txt"), as: UTF8.self)
        #expect(keys.contains("ledger public key \(ledger.publicKey.hex) keyid \(ledger.keyID)"))
        #expect(keys.contains("proxy-1 public key \(node.publicKey.hex) keyid \(node.keyID)"))
    }
}
