import BenCore
import BenProtocol
import NIOCore
import Testing

/// The gossip datagram codec: every message round-trips, sizes are exact, and anything truncated, oversize or
/// malformed is refused.
@Suite struct GossipWireTests {
    static let doc = GossipFixtures.document(3, size: 700)
    static let key = Key(hex: String(repeating: "ab", count: 32))!
    static let signature = [UInt8](repeating: 0x5A, count: 64)

    static var everyKind: [GossipMessage] {
        let updates = [
            MemberUpdate(node: "a", incarnation: 3, status: .alive), MemberUpdate(node: "b", incarnation: 1, status: .suspect(by: "c")),
            MemberUpdate(node: "d", incarnation: 9, status: .dead(by: "e")),
        ]
        return [
            .membership(.ping(sequence: 1, incarnation: 2, updates: updates)),
            .membership(.pingRequest(sequence: 5, incarnation: 0, target: "t", updates: [])),
            .membership(.ack(sequence: .max, incarnation: .max, updates: updates)),
            .membership(.nack(sequence: 8, incarnation: 1, updates: [])),
            .broadcast(.gossip(doc, round: 7)),
            .broadcast(.ihave([IHave(id: doc.id, round: 2, kind: .announcement, size: 700), IHave(id: key, round: 0, kind: .revocation, size: 9)])),
            .broadcast(.graft(key, round: 4)),
            .broadcast(.graft(nil, round: 1)),
            .broadcast(.prune),
            .broadcast(.digest(VersionDigest(highestAccepted: 12, announcement: key, active: 11, ack: AckDigest(version: 12, id: doc.id, delivered: false), ledgerReachable: true), reply: false)),
            .broadcast(.digest(VersionDigest(), reply: true)),
            .broadcast(.pull(key)),
            .broadcast(.document(GossipFixtures.document(8, kind: .ack, size: 330))),
            .broadcast(.ackRelayed(key)),
            .broadcast(.digest(VersionDigest(highestAccepted: 3, ledgerReachable: false, revocations: RevocationDigest(count: 2, hash: key)), reply: true)),
            .broadcast(.digest(VersionDigest(ledgerReachable: true, revocations: RevocationDigest(count: .max, hash: doc.id)), reply: false)),
            .broadcast(.revocations([key, doc.id])),
            .broadcast(.revocations([])),
        ]
    }

    static func datagram(_ message: GossipMessage) -> GossipDatagram {
        GossipDatagram(fleet: GossipFixtures.fleet, sender: "node-17", message: message)
    }

    @Test(arguments: everyKind)
    func everyMessageRoundTripsAndItsSizeIsExact(message: GossipMessage) throws {
        let d = Self.datagram(message)
        let bytes = GossipWire.encode(d, signature: Self.signature)
        #expect(bytes.readableBytes == GossipWire.size(of: d))
        let decoded = try GossipWire.decode(bytes, documentID: GossipFixtures.toyID)
        #expect(decoded.datagram == d)
        #expect(decoded.signature == Self.signature)
        var unsigned = ByteBuffer()
        GossipWire.encodeUnsigned(d, into: &unsigned)
        #expect(decoded.signed == unsigned, "the signature covers everything before it")
    }

    @Test func everyTruncationIsRefused() throws {
        let whole = GossipWire.encode(Self.datagram(Self.everyKind[0]), signature: Self.signature)
        for cut in 0..<whole.readableBytes {
            let partial = whole.getSlice(at: 0, length: cut)!
            #expect(throws: GossipWireError.self) { try GossipWire.decode(partial, documentID: GossipFixtures.toyID) }
        }
    }

    @Test func oversizeAndMalformedDatagramsAreRefused() throws {
        let big = GossipWire.encode(Self.datagram(.broadcast(.gossip(GossipFixtures.document(1, size: 2000), round: 0))), signature: Self.signature)
        #expect(throws: GossipWireError.oversize(bytes: big.readableBytes, limit: 1400)) { try GossipWire.decode(big, documentID: GossipFixtures.toyID) }
        #expect(try GossipWire.decode(big, maxBytes: 4096, documentID: GossipFixtures.toyID).datagram.sender == "node-17", "over a link the bound is the caller's")

        var wrongVersion = GossipWire.encode(Self.datagram(.broadcast(.prune)), signature: Self.signature)
        wrongVersion.setInteger(UInt8(2), at: 0)
        #expect(throws: GossipWireError.unsupportedVersion(2)) { try GossipWire.decode(wrongVersion, documentID: GossipFixtures.toyID) }
        var unknown = GossipWire.encode(Self.datagram(.broadcast(.prune)), signature: Self.signature)
        unknown.setInteger(UInt8(99), at: 1)
        #expect(throws: GossipWireError.unknownKind(99)) { try GossipWire.decode(unknown, documentID: GossipFixtures.toyID) }
        // A stray byte between the body and the signature.
        var stray = ByteBuffer()
        GossipWire.encodeUnsigned(Self.datagram(.broadcast(.pull(Self.key))), into: &stray)
        stray.writeInteger(UInt8(0))
        stray.writeBytes(Self.signature)
        #expect(throws: GossipWireError.malformed("1 stray bytes before the signature")) { try GossipWire.decode(stray, documentID: GossipFixtures.toyID) }
    }

    /// A digest without revocations is byte for byte what nodes before revocation digests sent (flags 0 or 1); a flag
    /// byte with an unknown bit is refused.
    @Test func aDigestWithoutRevocationsIsUnchangedAndUnknownFlagsAreRefused() throws {
        let plain = GossipWire.encode(Self.datagram(.broadcast(.digest(VersionDigest(ledgerReachable: true), reply: false))), signature: Self.signature)
        let flagAt = plain.readableBytes - 64 - 1
        #expect(plain.getInteger(at: flagAt, as: UInt8.self) == 1)
        var withRevocations = GossipWire.encode(
            Self.datagram(.broadcast(.digest(VersionDigest(ledgerReachable: true, revocations: RevocationDigest(count: 1, hash: Self.key)), reply: false))),
            signature: Self.signature)
        #expect(withRevocations.readableBytes == plain.readableBytes + 36)
        withRevocations.setInteger(UInt8(7), at: flagAt)
        #expect(throws: GossipWireError.malformed("digest flags 7")) { try GossipWire.decode(withRevocations, documentID: GossipFixtures.toyID) }
    }

    /// The id of a carried document is the receiver's own hash of the bytes, never a claim from the wire.
    @Test func aDocumentsIdIsComputedByTheReceiver() throws {
        let forgedID = GossipDocument(id: Self.key, kind: .announcement, bytes: Self.doc.bytes)
        let bytes = GossipWire.encode(Self.datagram(.broadcast(.gossip(forgedID, round: 0))), signature: Self.signature)
        let decoded = try GossipWire.decode(bytes, documentID: GossipFixtures.toyID)
        guard case .broadcast(.gossip(let d, _)) = decoded.datagram.message else { Issue.record("not a gossip message"); return }
        #expect(d.id == Self.doc.id)
    }
}
