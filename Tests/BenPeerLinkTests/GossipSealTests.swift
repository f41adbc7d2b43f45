import BenCore
import BenCrypto
import BenProtocol
import BenShell
import BenTopology
import NIOCore
import Testing

/// The shells' check of every gossip datagram (issue 16: "every message is authenticated with the node keys";
/// "nothing unsigned changes state"): only a datagram signed with its sender's topology key, for this fleet, and
/// carrying only documents that verify on their own signatures reaches a machine as `.verified`.
@Suite struct GossipSealTests {
    static let ledgerKey = SigningKey.generate()
    static let n1 = SigningKey.generate()
    static let n2 = SigningKey.generate()
    static let fleet = FleetName("seal")!

    static func directory() throws -> GossipDirectory {
        let yaml = """
            format: ben/topology/v1
            fleet: seal
            ledger: {address: 127.0.0.1:7400, region: r, zone: a}
            defaults: {chunk_size: 64KiB, uplink: 1Gbit}
            regions:
              - name: r
                zones:
                  - name: a
                    racks:
                      - name: k1
                        nodes:
                          - {id: n1, roles: [proxy], address: 127.0.0.1:7401, key: \(n1.publicKey.hex)}
                          - {id: n2, roles: [proxy], address: 127.0.0.1:7402, key: \(n2.publicKey.hex)}
            """
        return GossipDirectory(topology: try Topology(yaml: yaml, file: "seal.yaml"), ledgerKeys: TrustedKeys([ledgerKey.publicKey]))
    }

    static let ping = GossipMessage.membership(.ping(sequence: 7, incarnation: 0, updates: []))

    static func ack(of node: NodeID, signedBy key: SigningKey) -> GossipMessage {
        let ack = Ack(
            fleet: fleet, version: 3, node: node, manifest: BLAKE2b.key(of: Array("m".utf8)), status: .active, reason: "",
            at: Timestamp(millisecondsSinceEpoch: 1_795_000_000_000))
        let bytes = key.envelope(ack, context: .ack).canonicalBytes
        return .broadcast(.gossip(GossipDocument(id: BLAKE2b.key(of: bytes), kind: .ack, bytes: bytes), round: 0))
    }

    /// The verdict on a datagram `sender` sealed with `key`.
    static func verdict(
        _ message: GossipMessage, from sender: NodeID, key: SigningKey, fleet: FleetName = fleet, tamper: Bool = false,
        revoked: RevocationList = RevocationList()
    ) throws -> GossipAuthentication? {
        var buffer = GossipSeal.seal(GossipDatagram(fleet: fleet, sender: sender, message: message), key: key)
        if tamper {
            // The ping's sequence number changed on the way (7 becomes 6): the byte where the two encodings differ.
            let other = GossipSeal.seal(
                GossipDatagram(fleet: fleet, sender: sender, message: .membership(.ping(sequence: 6, incarnation: 0, updates: []))), key: key)
            let at = try #require(Array(zip(buffer.readableBytesView, other.readableBytesView)).firstIndex { $0 != $1 })
            buffer.setInteger(UInt8(6), at: buffer.readerIndex + at)
            #expect(buffer.readableBytesView.prefix(buffer.readableBytes - 64) == other.readableBytesView.prefix(other.readableBytes - 64))
        }
        switch GossipSeal.open(buffer, directory: try directory(), revoked: revoked) {
        case .message(let from, let opened, let authentication):
            #expect(from == sender && (opened == message) != tamper)
            return authentication
        case .unreadable:
            return nil
        }
    }

    @Test func aDatagramSignedWithItsSendersTopologyKeyIsVerified() throws {
        #expect(try Self.verdict(Self.ping, from: "n1", key: Self.n1) == .verified)
        #expect(try Self.verdict(Self.ping, from: "ledger", key: Self.ledgerKey) == .verified)
        #expect(try Self.verdict(Self.ack(of: "n2", signedBy: Self.n2), from: "n1", key: Self.n1) == .verified, "a peer's ack, relayed")
    }

    @Test func anImpostorAStrangerAnotherFleetAndAChangedByteAreRefused() throws {
        let stranger = SigningKey.generate()
        let cases: [(GossipAuthentication?, String)] = [
            (try Self.verdict(Self.ping, from: "n1", key: stranger), "does not verify against n1's key"),
            (try Self.verdict(Self.ping, from: "n1", key: Self.n2), "does not verify against n1's key"),
            (try Self.verdict(Self.ping, from: "ledger", key: Self.n1), "does not verify against ledger's key"),
            (try Self.verdict(Self.ping, from: "n9", key: stranger), "n9 is not in the topology"),
            (try Self.verdict(Self.ping, from: "n1", key: Self.n1, fleet: FleetName("other")!), "for fleet other"),
            (try Self.verdict(Self.ping, from: "n1", key: Self.n1, tamper: true), "does not verify against n1's key"),
        ]
        for (verdict, reason) in cases {
            guard case .refused(let text)? = verdict else {
                Issue.record("expected a refusal (\(reason)), got \(String(describing: verdict))")
                continue
            }
            #expect(text.contains(reason), "\(text)")
        }
    }

    /// A datagram its sender signed correctly is still refused when a document in it does not verify on its own:
    /// an ack signed by another node's key, or one naming a node the topology does not list.
    @Test func aCarriedAckMustBeSignedByItsOwnNode() throws {
        let forged = try Self.verdict(Self.ack(of: "n2", signedBy: Self.n1), from: "n1", key: Self.n1)
        guard case .refused(let text)? = forged else {
            Issue.record("an ack of n2 signed by n1 was not refused: \(String(describing: forged))")
            return
        }
        #expect(text.contains("carries an ack that does not verify"), "\(text)")
        let unknown = try Self.verdict(Self.ack(of: "n9", signedBy: Self.n1), from: "n1", key: Self.n1)
        guard case .refused(let other)? = unknown else {
            Issue.record("an ack of a node outside the topology was not refused: \(String(describing: unknown))")
            return
        }
        #expect(other.contains("names n9, which is not in the topology"), "\(other)")
    }

    static func activation(signedBy key: SigningKey, fleet: FleetName = fleet) -> GossipMessage {
        let at = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        let activation = Activation(fleet: fleet, version: 3, manifest: BLAKE2b.key(of: Array("m".utf8)), barrier: at, issuedAt: at, epoch: 1)
        let bytes = key.envelope(activation, context: .activate).canonicalBytes
        return .broadcast(.gossip(GossipDocument(id: BLAKE2b.key(of: bytes), kind: .activation, bytes: bytes), round: 0))
    }

    /// A two-phase activation rides gossip only under a trusted ledger key, for this fleet: a node's own signature,
    /// however good its datagram, cannot make its peers swap.
    @Test func aCarriedActivationMustBeTheLedgers() throws {
        #expect(try Self.verdict(Self.activation(signedBy: Self.ledgerKey), from: "n1", key: Self.n1) == .verified)
        for (message, why) in [
            (Self.activation(signedBy: Self.n1), "signed by a node"),
            (Self.activation(signedBy: Self.ledgerKey, fleet: FleetName("other")!), "for another fleet"),
        ] {
            let verdict = try Self.verdict(message, from: "n1", key: Self.n1)
            guard case .refused(let text)? = verdict else {
                Issue.record("an activation \(why) was not refused: \(String(describing: verdict))")
                continue
            }
            #expect(text.contains("activation"), "\(text)")
        }
    }

    static let at = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)

    static func carried(_ bytes: [UInt8], kind: DocumentKind) -> GossipMessage {
        .broadcast(.gossip(GossipDocument(id: BLAKE2b.key(of: bytes), kind: kind, bytes: bytes), round: 0))
    }

    static func alarm(signedBy key: SigningKey, fleet: FleetName = fleet, context: SignatureContext = .alarm) -> GossipMessage {
        carried(key.envelope(Alarm(fleet: fleet, version: 3, reason: "aborted by the operator", issuedAt: at), context: context).canonicalBytes, kind: .alarm)
    }

    static func revocation(signedBy key: SigningKey, fleet: FleetName = fleet, context: SignatureContext = .revoke) -> GossipMessage {
        let revocation = Revocation(fleet: fleet, node: "n2", keyID: n2.keyID, reason: "stolen", issuedAt: at)
        return carried(key.envelope(revocation, context: context).canonicalBytes, kind: .revocation)
    }

    /// Each message is refused, and the reason names the document's kind.
    static func expectRefused(_ cases: [(GossipMessage, String)], naming kind: String) throws {
        for (message, why) in cases {
            let verdict = try verdict(message, from: "n1", key: n1)
            guard case .refused(let text)? = verdict else {
                Issue.record("\(kind == "alarm" ? "an" : "a") \(kind) \(why) was not refused: \(String(describing: verdict))")
                continue
            }
            #expect(text.contains("carries a\(kind == "alarm" ? "n" : "") \(kind)"), "\(why): \(text)")
        }
    }

    /// An alarm stops a version on every node that hears it, so it rides gossip only under a trusted ledger key, for
    /// this fleet, in the alarm's own context: a node's signature, or the ledger's made for something else, stops
    /// nothing.
    @Test func aCarriedAlarmMustBeTheLedgers() throws {
        #expect(try Self.verdict(Self.alarm(signedBy: Self.ledgerKey), from: "n1", key: Self.n1) == .verified)
        try Self.expectRefused(
            [
                (Self.alarm(signedBy: Self.n1), "signed by a node"),
                (Self.alarm(signedBy: Self.ledgerKey, fleet: FleetName("other")!), "for another fleet"),
                (Self.alarm(signedBy: Self.ledgerKey, context: .activate), "signed by the ledger for an activation"),
            ], naming: "alarm")
    }

    /// A revocation makes every node refuse a key, so it too rides gossip only under a trusted ledger key, for this
    /// fleet, in its own context.
    @Test func aCarriedRevocationMustBeTheLedgers() throws {
        #expect(try Self.verdict(Self.revocation(signedBy: Self.ledgerKey), from: "n1", key: Self.n1) == .verified)
        try Self.expectRefused(
            [
                (Self.revocation(signedBy: Self.n1), "signed by a node"),
                (Self.revocation(signedBy: Self.ledgerKey, fleet: FleetName("other")!), "for another fleet"),
                (Self.revocation(signedBy: Self.ledgerKey, context: .alarm), "signed by the ledger for an alarm"),
            ], naming: "revocation")
    }

    /// Once n2's key is revoked, a datagram n2 signs is refused, and so is n2's ack carried by n1; n1 is unaffected.
    @Test func aRevokedKeySignsNeitherADatagramNorACarriedAck() throws {
        var revoked = RevocationList()
        let revocation = Revocation(fleet: Self.fleet, node: "n2", keyID: Self.n2.keyID, reason: "stolen", issuedAt: Self.at)
        #expect(revoked.admit(revocation, signature: .valid, fleet: Self.fleet, highestEpoch: 0) == .added)
        #expect(try Self.verdict(Self.ping, from: "n1", key: Self.n1, revoked: revoked) == .verified)
        let cases: [(GossipAuthentication?, String)] = [
            (try Self.verdict(Self.ping, from: "n2", key: Self.n2, revoked: revoked), "it is signed with a revoked key"),
            (try Self.verdict(Self.ack(of: "n2", signedBy: Self.n2), from: "n1", key: Self.n1, revoked: revoked), "is signed with a revoked key"),
        ]
        for (verdict, reason) in cases {
            guard case .refused(let text)? = verdict else {
                Issue.record("expected a refusal (\(reason)), got \(String(describing: verdict))")
                continue
            }
            #expect(text.contains(reason) && text.contains(Self.n2.keyID), "\(text)")
        }
    }
}
