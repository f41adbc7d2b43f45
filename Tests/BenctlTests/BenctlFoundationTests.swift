import BenCore
import BenCrypto
import BenStore
import BenTestKit
import Foundation
import Testing

/// benctl's foundation verbs, run as the real executable.
@Suite struct BenctlFoundationTests {
    let benctl = ProcessRunner.product("benctl")

    @Test func keygenWritesAPrivateKeyAndPrintsThePublicKeyAndKeyID() async throws {
        let dir = try TemporaryDirectory()
        let outcome = try await ProcessRunner.run(benctl, ["keygen", "--out", dir.file("op.key")])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let key = try KeyFile.read(dir.file("op.key"))
        #expect(outcome.stdout.contains("public key: \(key.publicKey.hex)"))
        #expect(outcome.stdout.contains("keyid:      \(key.keyID)"))
        let pub = try String(contentsOfFile: dir.file("op.key.pub"), encoding: .utf8)
        #expect(pub == key.publicKey.hex + "\n")
        // A second keygen to the same path is refused and leaves the first key alone.
        let again = try await ProcessRunner.run(benctl, ["keygen", "--out", dir.file("op.key")])
        #expect(again.status == 1)
        #expect(try KeyFile.read(dir.file("op.key")).publicKey == key.publicKey)
    }

    @Test func hashPrintsTheSameLineAsB2sum() async throws {
        let dir = try TemporaryDirectory()
        var generator = SeededGenerator(seed: 11)
        try Data(generator.bytes(3 << 20 + 17)).write(to: URL(fileURLWithPath: dir.file("f")))
        let ours = try await ProcessRunner.run(benctl, ["hash", dir.file("f")])
        let theirs = try await ProcessRunner.run(try #require(ProcessRunner.which("b2sum")), ["-l", "256", dir.file("f")])
        #expect(ours.status == 0)
        #expect(ours.stdout == theirs.stdout)
    }

    @Test func storeVerifyListsBadObjectsAndExitsOne() async throws {
        let dir = try TemporaryDirectory()
        let store = try ChunkStore(root: dir.path)
        let good = try store.put(Array("good".utf8))
        let bad = try store.put(Array("soon bad".utf8))
        chmod(store.path(of: bad), 0o644)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: store.path(of: bad)))
        let outcome = try await ProcessRunner.run(benctl, ["store", "verify", dir.path])
        #expect(outcome.status == 1)
        #expect(outcome.stdout.contains("1 bad"))
        #expect(outcome.stdout.contains(bad.hex))
        #expect(!outcome.stdout.contains(good.hex))
        let clean = try await ProcessRunner.run(benctl, ["store", "verify", dir.path])
        #expect(clean.status == 0, "the bad object was quarantined by the first run")
    }

    @Test(arguments: [
        ["hash", "/nonexistent/file"],
        ["store", "verify", "/nonexistent/store"],
        ["keygen"],
        ["keygen", "--out", "/nonexistent/dir/key"],
        ["no-such-verb"],
        ["store", "gc", "/tmp", "--keep", "xyz"],
    ])
    func badInputGetsOneLineAndExitCodeOne(arguments: [String]) async throws {
        let outcome = try await ProcessRunner.run(benctl, arguments)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.hasPrefix("benctl: "))
        #expect(!outcome.stderr.contains("Fatal error"))
        #expect(outcome.stderr.split(separator: "\n").count <= 2)
    }
}
