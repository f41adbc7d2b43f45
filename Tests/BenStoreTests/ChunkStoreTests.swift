import BenCore
import BenCrypto
import BenStore
import BenTestKit
import Foundation
import Testing

@Suite struct ChunkStoreTests {
    @Test func putGetHasRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path)
        let bytes = Array("a policy pack".utf8)
        let key = try store.put(bytes)
        #expect(key == BLAKE2b.key(of: bytes))
        #expect(store.has(key))
        #expect(try store.get(key) == bytes)
        #expect(!store.has(BLAKE2b.key(of: [0])))
        #expect(throws: StoreError.notFound(key: BLAKE2b.key(of: [0]))) { try store.get(BLAKE2b.key(of: [0])) }
    }

    @Test func chunksAnArtifactAtTheConfiguredSizeAndB2sumPrintsEachChunksName() async throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path, settings: .init(chunkSize: 4096))
        var generator = SeededGenerator(seed: 1)
        let bytes = generator.bytes(4096 * 3 + 100)
        let stored = try store.putArtifact(bytes)
        #expect(stored.chunks.count == 4)
        #expect(stored.key == BLAKE2b.key(of: bytes))
        #expect(stored.newChunks == 4)
        let b2sum = try #require(ProcessRunner.which("b2sum"))
        for (i, key) in stored.chunks.enumerated() {
            let outcome = try await ProcessRunner.run(b2sum, ["-l", "256", store.path(of: key)])
            #expect(outcome.stdout.hasPrefix(key.hex), "chunk \(i)")
        }
        // Storing the same bytes again adds nothing.
        #expect(try store.putArtifact(bytes).newChunks == 0)
    }

    @Test func streamsAnArtifactBackChunkByChunk() throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path, settings: .init(chunkSize: 4096))
        var generator = SeededGenerator(seed: 2)
        let bytes = generator.bytes(50_000)
        let stored = try store.putArtifact(bytes)
        var reassembled: [UInt8] = []
        for chunk in store.stream(stored.chunks) {
            let piece = try chunk.get()
            #expect(piece.count <= 4096)
            reassembled += piece
        }
        #expect(reassembled == bytes)
    }

    @Test func refusesBytesThatDoNotMatchTheirClaimedKey() throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path)
        let claimed = BLAKE2b.key(of: Array("real".utf8))
        #expect(throws: StoreError.keyMismatch(expected: claimed, actual: BLAKE2b.key(of: Array("fake".utf8)))) {
            try store.put(Array("fake".utf8), expecting: claimed)
        }
        #expect(!store.has(claimed))
    }

    @Test func aFlippedByteOnDiskFailsTheReadNamesTheKeyAndQuarantinesTheObject() throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path)
        var generator = SeededGenerator(seed: 3)
        let key = try store.put(generator.bytes(10_000))
        let path = store.path(of: key)
        chmod(path, 0o644)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 5000)
        let original = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: 5000)
        handle.write(Data([original ^ 0x01]))
        try handle.close()

        #expect {
            try store.get(key)
        } throws: { error in
            guard case .corrupt(let badKey, let quarantinedAt) = error as? StoreError else { return false }
            return badKey == key && "\(error)".contains(key.hex) && FileManager.default.fileExists(atPath: quarantinedAt)
        }
        #expect(!store.has(key), "a corrupt object is not served again")
        #expect(throws: StoreError.notFound(key: key)) { try store.get(key) }
    }

    @Test func garbageCollectionRemovesChunksNoLiveManifestReferences() throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path, settings: .init(chunkSize: 4096))
        var generator = SeededGenerator(seed: 4)
        func manifest(_ bytes: [UInt8], name: String) throws -> Key {
            let stored = try store.putArtifact(bytes)
            let manifest = Manifest(artifacts: [
                .init(name: name, kind: .policyPack, roles: [.proxy], size: stored.size, chunkSize: stored.chunkSize, key: stored.key, chunks: stored.chunks)
            ])
            return try store.putDocument(manifest)
        }
        let shared = generator.bytes(4096)
        let old = try manifest(shared + generator.bytes(8192), name: "old")
        let live = try manifest(shared + generator.bytes(4096), name: "live")
        let stray = try store.put(generator.bytes(100))
        let before = try store.allKeys().count
        let report = try store.collectGarbage(keeping: [live])
        #expect(report.removed.contains(old))
        #expect(report.removed.contains(stray))
        #expect(try store.allKeys().count == before - report.removed.count)
        // Everything the live manifest needs is still there and readable.
        let liveManifest = try #require(try store.manifest(live))
        for key in liveManifest.chunkKeys { #expect(try store.get(key).count > 0) }
        // A missing root stops collection before anything is removed.
        #expect(throws: StoreError.self) { try store.collectGarbage(keeping: [old]) }
        #expect(try store.allKeys().count == report.kept)
    }

    @Test func aWriterKilledMidWriteLeavesNoCorruptObjectUnderAValidKey() async throws {
        let dir = try TemporaryDirectory()
        var generator = SeededGenerator(seed: 5)
        let source = dir.file("big.bin")
        try Data(generator.bytes(96 << 20)).write(to: URL(fileURLWithPath: source))
        let storePath = dir.file("store")
        let benctl = ProcessRunner.product("benctl")
        // Kill the writer at several points of its run; each run resumes where the last one left off.
        for delay in [20, 60, 120, 250, 400] {
            let writer = try await BackgroundProcess(
                benctl, ["store", "put", "--store", storePath, "--chunk-size", "65536", source], logPath: dir.file("put-\(delay).log"))
            usleep(useconds_t(delay * 1000))  // where the kill lands: the situation under test, not a wait
            writer.signal(SIGKILL)
            _ = await writer.wait(timeout: .seconds(10))
        }
        let store = try ChunkStore(root: storePath)  // reopening clears the dead writers' temp files
        let result = try store.verifyAll()
        #expect(result.bad.isEmpty, "\(result.bad)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: storePath + "/tmp").isEmpty)
        // A final uninterrupted run completes the artifact, and it reads back intact.
        let outcome = try await ProcessRunner.run(benctl, ["store", "put", "--store", storePath, "--chunk-size", "65536", "--json", source])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let stored = try store.putFile(source, chunkSize: 65536)
        #expect(stored.newChunks == 0)
        #expect(try store.verifyAll().bad.isEmpty)
    }
}
