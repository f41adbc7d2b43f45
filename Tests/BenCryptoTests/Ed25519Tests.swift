import BenCore
import BenCrypto
import BenTestKit
import Foundation
import Testing

@Suite struct Ed25519Tests {
    /// RFC 8032 §7.1, TEST 1 to 3: seed → public key, and the exact signature.
    @Test(arguments: [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
        ),
    ])
    func matchesRFC8032Vectors(seed: String, publicKey: String, message: String, signature: String) throws {
        let key = try #require(SigningKey(seed: Hex.decode(seed)!))
        #expect(key.publicKey.hex == publicKey)
        let sig = key.signRaw(Hex.decode(message)!)
        #expect(Hex.encode(sig) == signature)
        #expect(key.publicKey.isValidSignature(sig, overRaw: Hex.decode(message)!))
    }

    @Test func contextSeparatesPurposes() {
        let key = SigningKey.generate()
        let message = Array("same bytes".utf8)
        let sig = key.sign(message, context: .ack)
        #expect(key.publicKey.isValidSignature(sig, over: message, context: .ack))
        #expect(!key.publicKey.isValidSignature(sig, over: message, context: .announce))
        #expect(!key.publicKey.isValidSignature(sig, overRaw: message))
    }

    @Test func keyIDIsTheFirst16HexDigitsOfTheBLAKE2bOfThePublicKey() {
        let key = SigningKey(seed: Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!)!
        #expect(key.keyID == String(BLAKE2b.key(of: key.publicKey.bytes).hex.prefix(16)))
        #expect(key.keyID.count == 16)
    }

    @Test func envelopeVerifiesOnlyUnderItsContextAndTrustedKey() throws {
        let ledger = SigningKey.generate()
        let stranger = SigningKey.generate()
        let ack = Ack(
            fleet: FleetName("demo")!, version: 4, node: "n1", manifest: BLAKE2b.key(of: [1, 2, 3]), status: .active,
            reason: "", at: Timestamp(millisecondsSinceEpoch: 1_795_000_000_000))
        let envelope = ledger.envelope(ack, context: .ack)
        let trusted = TrustedKeys([ledger.publicKey])
        #expect(try envelope.open(Ack.self, context: .ack, trusted: trusted) == ack)
        #expect(throws: VerificationFailure.badSignature(keyID: ledger.keyID)) {
            try envelope.verify(context: .announce, trusted: trusted)
        }
        #expect(throws: VerificationFailure.unknownSigner(keyIDs: [ledger.keyID])) {
            try envelope.verify(context: .ack, trusted: TrustedKeys([stranger.publicKey]))
        }
        // One changed field, same signature: refused.
        var tampered = envelope
        tampered.signed = .object(envelope.signed.objectValue!.merging(["version": .int(5)]) { $1 })
        #expect(throws: VerificationFailure.badSignature(keyID: ledger.keyID)) {
            try tampered.verify(context: .ack, trusted: trusted)
        }
        // Reformatting (whitespace, member order) is not tampering: canonical bytes are the same.
        let reformatted = try SignedEnvelope.decode(
            Array(try JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: Data(envelope.canonicalBytes)), options: [.prettyPrinted])),
            document: "ack", maxBytes: 1 << 16)
        #expect(try reformatted.open(Ack.self, context: .ack, trusted: trusted) == ack)
    }

    @Test func pythonCryptographyAndHashlibCheckBensBytes() async throws {
        let python = try #require(ProcessRunner.which("python3"), "python3 is installed by make test")
        let dir = try TemporaryDirectory()
        let key = SigningKey.generate()
        let chunk = SeededGenerator(seed: 42).bytesForChunk(100_000)
        let chunkKey = BLAKE2b.key(of: chunk)
        let manifest = Manifest(artifacts: [
            .init(name: "policy/edge", kind: .policyPack, roles: [.proxy], size: Int64(chunk.count), chunkSize: 1 << 20, key: chunkKey, chunks: [chunkKey])
        ])
        let announcement = Announcement(
            fleet: FleetName("demo")!, version: 12, manifest: BLAKE2b.key(of: manifest), manifestSize: Int64(manifest.canonicalBytes.count),
            plan: chunkKey, topology: chunkKey, issuedAt: Timestamp(millisecondsSinceEpoch: 1_795_000_000_000),
            deadline: Timestamp(millisecondsSinceEpoch: 1_795_000_060_000), expires: Timestamp(millisecondsSinceEpoch: 1_795_003_600_000),
            ledger: "127.0.0.1:7400", epoch: 17)
        let envelope = key.envelope(announcement, context: .announce)
        try Data(envelope.canonicalBytes).write(to: URL(fileURLWithPath: dir.file("announcement.json")))
        try Data(chunk).write(to: URL(fileURLWithPath: dir.file("chunk")))
        let script = ProcessRunner.repositoryRoot() + "/Tests/Independent/check_ben_bytes.py"
        let outcome = try await ProcessRunner.run(
            python, [script, dir.file("announcement.json"), key.publicKey.hex, SignatureContext.announce.rawValue, dir.file("chunk"), chunkKey.hex])
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        #expect(outcome.stdout.contains("signature ok"))
        #expect(outcome.stdout.contains("announcement fields ok (version 12, epoch 17)"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("chunk key ok \(chunkKey.hex)"))

        // And the same checker refuses a signature under the wrong context, so the check above means something.
        let wrong = try await ProcessRunner.run(
            python, [script, dir.file("announcement.json"), key.publicKey.hex, SignatureContext.ack.rawValue, dir.file("chunk"), chunkKey.hex])
        #expect(wrong.status != 0)
    }
}

extension SeededGenerator {
    func bytesForChunk(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}
