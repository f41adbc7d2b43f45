import BenCore
import Foundation
import BenCrypto
import BenTestKit
import Testing

@Suite struct BLAKE2bTests {
    /// Published BLAKE2b-256 digests (RFC 7693's "abc" input and the empty string, at 32-byte output).
    @Test(arguments: [
        ("", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"),
        ("abc", "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"),
        ("The quick brown fox jumps over the lazy dog", "01718cec35cd3d796dd00020e0bfecb473ad23457d063b75eff29c0ffa2e58a9"),
    ])
    func matchesPublishedDigests(input: String, digest: String) {
        #expect(BLAKE2b.key(of: Array(input.utf8)).hex == digest)
    }

    @Test func streamingEqualsOneShotForAnySplit() {
        var generator = SeededGenerator(seed: 7)
        let data = generator.bytes(300_000)
        let expected = BLAKE2b.key(of: data)
        for _ in 0..<20 {
            var hasher = BLAKE2bHasher()
            var offset = 0
            while offset < data.count {
                let step = Int(generator.next() % 70_000)
                let end = min(data.count, offset + step)
                hasher.update(Array(data[offset..<end]))
                offset = end
            }
            #expect(hasher.finalize() == expected)
        }
    }

    @Test func matchesB2sum() async throws {
        let b2sum = try #require(ProcessRunner.which("b2sum"), "coreutils' b2sum")
        let dir = try TemporaryDirectory()
        var generator = SeededGenerator(seed: 9)
        let data = generator.bytes(1 << 20)
        try Data(data).write(to: URL(fileURLWithPath: dir.file("blob")))
        let outcome = try await ProcessRunner.run(b2sum, ["-l", "256", dir.file("blob")])
        #expect(outcome.stdout.hasPrefix(BLAKE2b.key(of: data).hex))
    }
}
