import BenCore
import BenCrypto
import BenLedger
import BenProtocol
import Testing

/// The ledger refuses acks signed with a key it revoked (issue 16), even though the signature itself is good.
@Suite struct AckVerifierRevocationTests {
    @Test func anAckSignedWithARevokedKeyIsRejectedAndOthersStillCount() {
        let fleet = FleetName("seal")!
        let (k1, k2) = (SigningKey.generate(), SigningKey.generate())
        let at = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        func ack(_ node: NodeID, _ key: SigningKey) -> SignedEnvelope {
            key.envelope(
                Ack(fleet: fleet, version: 3, node: node, manifest: BLAKE2b.key(of: Array("m".utf8)), status: .active, reason: "", at: at),
                context: .ack)
        }
        let keys: [NodeID: PublicKey] = ["n1": k1.publicKey, "n2": k2.publicKey]
        let envelopes = [ack("n1", k1), ack("n2", k2)]
        #expect(AckVerifier.verify(envelopes, keys: keys).verified.count == 2)
        var revoked = RevocationList()
        _ = revoked.admit(Revocation(fleet: fleet, node: "n2", keyID: k2.keyID, reason: "stolen", issuedAt: at), signature: .valid, fleet: fleet, highestEpoch: 0)
        let outcome = AckVerifier.verify(envelopes, keys: keys, revoked: revoked)
        #expect(outcome.verified.map(\.ack.node) == ["n1"])
        #expect(outcome.rejected.count == 1 && outcome.rejected[0].node == "n2")
        #expect(outcome.rejected.first?.reason.contains("revoked") == true, "\(outcome.rejected)")
    }
}
