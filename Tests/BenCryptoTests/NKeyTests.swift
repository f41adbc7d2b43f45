@testable import BenCrypto
import BenCore
import Testing

/// NATS nkeys, as `benctl nats config` writes them for nats-server's authorization.
@Suite struct NKeyTests {
    /// The user key pair NATS's documentation shows (`nk -gen user -pubout`).
    static let seed = "SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY"
    static let publicKey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"

    @Test func natsDocumentedUserSeedGivesItsPublicKey() throws {
        let (key, kind) = try #require(NKey.signingKey(seed: Self.seed))
        #expect(kind == .user)
        #expect(Hex.encode(key.seed) == "29497ba00f41dd45936b4cc4bda1decb67c128e69fb3d490ee820daf7c318c0a")
        #expect(NKey.publicKey(key.publicKey) == Self.publicKey)
        #expect(NKey.seed(key) == Self.seed)
        #expect(NKey.publicKey(Self.publicKey)?.0 == key.publicKey)
    }

    @Test func generatedKeysRoundTripWithTheirLettersAndLengths() throws {
        for _ in 0..<50 {
            let key = SigningKey.generate()
            let seed = NKey.seed(key)
            let publicKey = NKey.publicKey(key.publicKey)
            #expect(seed.hasPrefix("SU") && seed.count == 58)
            #expect(publicKey.hasPrefix("U") && publicKey.count == 56)
            #expect(NKey.signingKey(seed: seed)?.0.publicKey == key.publicKey)
            #expect(NKey.publicKey(publicKey)?.0 == key.publicKey)
        }
        let key = SigningKey.generate()
        #expect(NKey.publicKey(key.publicKey, kind: .account).hasPrefix("A"))
        #expect(NKey.publicKey(key.publicKey, kind: .operator).hasPrefix("O"))
        #expect(NKey.seed(key, kind: .account).hasPrefix("SA"))
    }

    @Test func aMistypedKeyFailsItsChecksum() {
        var typo = Array(Self.publicKey)
        typo[10] = typo[10] == "A" ? "B" : "A"
        #expect(NKey.publicKey(String(typo)) == nil)
        #expect(NKey.signingKey(seed: Self.publicKey) == nil, "a public key is not a seed")
        #expect(NKey.publicKey(Self.seed) == nil, "a seed is not a public key")
        #expect(NKey.signingKey(seed: "SU0ACSSL") == nil)
    }
}
