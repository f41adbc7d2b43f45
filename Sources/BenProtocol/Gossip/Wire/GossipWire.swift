public import BenCore
public import NIOCore

/// The gossip datagram codec: pure, over `ByteBuffer`, no socket (the UDP channel in the agent and the simulator
/// drive it).
///
/// Wire form, integers big-endian:
///
///     u8  wire version (1)
///     u8  kind: 1 ping, 2 ping-req, 3 ack, 4 nack; 16 gossip, 17 ihave, 18 graft, 19 prune, 20 digest, 21 pull,
///         22 document, 23 ack-relayed, 24 revocations
///     u8  fleet length, fleet (UTF-8)
///     u8  sender length, sender node id (UTF-8)
///     kind-specific body
///     64  Ed25519 signature by the sender's topology key over "ben/gossip/v1" 0x00 and every byte before it
///
/// Bodies: membership messages carry u32 sequence, u32 sender incarnation, (ping-req: the target's id), u8 count
/// and that many updates (u8 status 0 alive / 1 suspect / 2 dead, u32 incarnation, node id, and for suspect and
/// dead the id of who said so). A document is u8 kind, u32 length and its bytes; its id is not sent but computed
/// by the receiver from the bytes (`documentID`), so no one can claim an id for bytes that do not hash to it.
/// IHAVE entries are 32-byte id, u16 round, u8 kind, u32 size. A digest is u8 reply, u64 highest accepted, u8 flag
/// and 32-byte announcement id, u64 active, u8 flag and (u64 version, 32-byte ack id, u8 delivered), u8 flags (bit 0:
/// ledger reachable; bit 1: a revocation digest follows, u32 count and 32-byte hash). The revocation digest is sent
/// only by a node that keeps a revocation, so a fleet without any speaks what nodes before it spoke. A revocations
/// message is u8 count and that many 32-byte ids.
///
/// Every datagram is bounded: `decode` refuses one over `maxBytes` before reading it (1400 by default: an Ethernet
/// MTU less IP, UDP and tunnel headers, so nothing is fragmented). The machines never produce a larger one:
/// membership piggybacking stops at the budget, IHAVEs are split, and a document too large for a datagram goes over
/// a peer link.
public enum GossipWire {
    /// The wire format's version, the first byte of every datagram.
    public static let version: UInt8 = 1
    /// Signature context (DESIGN §5's scheme: Ed25519 over context, 0x00, bytes).
    public static let signingContext = "ben/gossip/v1"
    /// An Ed25519 signature's length, which ends every datagram.
    public static let signatureBytes = 64
    /// The largest datagram when the shell names no other size (fits a 1500-byte MTU).
    public static let defaultMaxBytes = 1400
    /// What one IHAVE entry takes: id, round, kind and size.
    public static let ihaveEntryBytes = 32 + 2 + 1 + 4
    /// Documents carried over a peer link are bounded too (the largest signed document Ben gossips is 8 KiB).
    public static let maxDocumentBytes = 64 << 10

    // Membership kinds on one line, broadcast kinds on the other.
    // swift-format-ignore: OneCasePerLine
    enum Kind: UInt8 {
        case ping = 1, pingRequest = 2, ack = 3, nack = 4
        case gossip = 16, ihave = 17, graft = 18, prune = 19, digest = 20, pull = 21, document = 22, ackRelayed = 23, revocations = 24
    }

    /// What `decode` read: the datagram, the bytes its signature covers, and the signature.
    public struct Decoded: Sendable {
        /// The datagram.
        public var datagram: GossipDatagram
        /// Everything before the signature (the shell prefixes the context and 0x00 and verifies).
        public var signed: ByteBuffer
        /// The sender's Ed25519 signature (64 bytes).
        public var signature: [UInt8]
    }

    // MARK: Encoding

    /// Writes everything but the signature; the shell signs what was written and appends the 64 signature bytes.
    public static func encodeUnsigned(_ datagram: GossipDatagram, into buffer: inout ByteBuffer) {
        buffer.writeInteger(version)
        buffer.writeInteger(kind(of: datagram.message).rawValue)
        writeShort(datagram.fleet.rawValue, into: &buffer)
        writeShort(datagram.sender.rawValue, into: &buffer)
        switch datagram.message {
        case .membership(let m):
            buffer.writeInteger(m.sequence)
            buffer.writeInteger(m.incarnation)
            if case .pingRequest(_, _, let target, _) = m { writeShort(target.rawValue, into: &buffer) }
            buffer.writeInteger(UInt8(m.updates.count))
            for u in m.updates {
                switch u.status {
                case .alive: buffer.writeInteger(UInt8(0))
                case .suspect: buffer.writeInteger(UInt8(1))
                case .dead: buffer.writeInteger(UInt8(2))
                }
                buffer.writeInteger(u.incarnation)
                writeShort(u.node.rawValue, into: &buffer)
                switch u.status {
                case .alive: break
                case .suspect(let by), .dead(let by): writeShort(by.rawValue, into: &buffer)
                }
            }
        case .broadcast(let b):
            switch b {
            case .gossip(let document, let round):
                buffer.writeInteger(round)
                writeDocument(document, into: &buffer)
            case .ihave(let entries):
                buffer.writeInteger(UInt8(entries.count))
                for e in entries {
                    buffer.writeBytes(e.id.bytes)
                    buffer.writeInteger(e.round)
                    buffer.writeInteger(e.kind.rawValue)
                    buffer.writeInteger(e.size)
                }
            case .graft(let id, let round):
                buffer.writeInteger(UInt8(id == nil ? 0 : 1))
                if let id { buffer.writeBytes(id.bytes) }
                buffer.writeInteger(round)
            case .prune:
                break
            case .digest(let d, let reply):
                buffer.writeInteger(UInt8(reply ? 1 : 0))
                buffer.writeInteger(d.highestAccepted.rawValue)
                buffer.writeInteger(UInt8(d.announcement == nil ? 0 : 1))
                if let a = d.announcement { buffer.writeBytes(a.bytes) }
                buffer.writeInteger(d.active.rawValue)
                buffer.writeInteger(UInt8(d.ack == nil ? 0 : 1))
                if let ack = d.ack {
                    buffer.writeInteger(ack.version.rawValue)
                    buffer.writeBytes(ack.id.bytes)
                    buffer.writeInteger(UInt8(ack.delivered ? 1 : 0))
                }
                buffer.writeInteger(UInt8((d.ledgerReachable ? 1 : 0) | (d.revocations == nil ? 0 : 2)))
                if let r = d.revocations {
                    buffer.writeInteger(r.count)
                    buffer.writeBytes(r.hash.bytes)
                }
            case .pull(let id), .ackRelayed(let id):
                buffer.writeBytes(id.bytes)
            case .document(let document):
                writeDocument(document, into: &buffer)
            case .revocations(let ids):
                precondition(ids.count <= 255, "a revocations message names at most 255 ids")
                buffer.writeInteger(UInt8(ids.count))
                for id in ids { buffer.writeBytes(id.bytes) }
            }
        }
    }

    /// The whole datagram: the unsigned part and `signature` (64 bytes).
    public static func encode(_ datagram: GossipDatagram, signature: [UInt8], allocator: ByteBufferAllocator = ByteBufferAllocator())
        -> ByteBuffer
    {
        precondition(signature.count == signatureBytes, "an Ed25519 signature is 64 bytes")
        var buffer = allocator.buffer(capacity: size(of: datagram))
        encodeUnsigned(datagram, into: &buffer)
        buffer.writeBytes(signature)
        return buffer
    }

    // MARK: Sizes (what `encode` writes, signature included; the machines budget with these)

    /// The bytes `encode` writes for `datagram`, signature included.
    public static func size(of datagram: GossipDatagram) -> Int {
        var n = 2 + 1 + datagram.fleet.rawValue.utf8.count + 1 + datagram.sender.rawValue.utf8.count + signatureBytes
        switch datagram.message {
        case .membership(let m):
            n += 4 + 4 + 1
            if case .pingRequest(_, _, let target, _) = m { n += 1 + target.rawValue.utf8.count }
            for u in m.updates { n += size(of: u) }
        case .broadcast(let b):
            switch b {
            case .gossip(let d, _): n += 2 + documentSize(d)
            case .ihave(let entries): n += 1 + entries.count * ihaveEntryBytes
            case .graft(let id, _): n += 1 + (id == nil ? 0 : 32) + 2
            case .prune: break
            case .digest(let d, _):
                n += 1 + 8 + 1 + (d.announcement == nil ? 0 : 32) + 8 + 1 + (d.ack == nil ? 0 : 41) + 1 + (d.revocations == nil ? 0 : 36)
            case .pull, .ackRelayed: n += 32
            case .document(let d): n += documentSize(d)
            case .revocations(let ids): n += 1 + 32 * ids.count
            }
        }
        return n
    }

    /// The bytes one piggybacked member update takes.
    public static func size(of update: MemberUpdate) -> Int {
        var n = 1 + 4 + 1 + update.node.rawValue.utf8.count
        switch update.status {
        case .alive: break
        case .suspect(let by), .dead(let by): n += 1 + by.rawValue.utf8.count
        }
        return n
    }

    static func documentSize(_ d: GossipDocument) -> Int { 1 + 4 + d.bytes.count }

    // MARK: Decoding

    /// Reads one whole datagram.
    ///
    /// - Parameter documentID: computes a carried document's id (BLAKE2b-256 of its bytes) — the shell's hashing.
    /// - Throws: `GossipWireError` for anything over `maxBytes`, truncated, malformed or followed by stray bytes.
    public static func decode(_ datagram: ByteBuffer, maxBytes: Int = defaultMaxBytes, documentID: ([UInt8]) -> Key) throws(GossipWireError)
        -> Decoded
    {
        let total = datagram.readableBytes
        guard total <= maxBytes else { throw .oversize(bytes: total, limit: maxBytes) }
        guard total > signatureBytes + 2 else { throw .truncated("the datagram is \(total) bytes, too short for a header and a signature") }
        let signed = datagram.getSlice(at: datagram.readerIndex, length: total - signatureBytes)!
        let signature = datagram.getBytes(at: datagram.readerIndex + total - signatureBytes, length: signatureBytes)!
        var r = Reader(buffer: signed)
        let wireVersion = try r.integer(UInt8.self, "wire version")
        guard wireVersion == version else { throw .unsupportedVersion(wireVersion) }
        let kindByte = try r.integer(UInt8.self, "kind")
        guard let kind = Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let fleetText = try r.short("fleet")
        guard let fleet = FleetName(fleetText) else { throw .malformed("fleet \"\(fleetText)\" is not a fleet name") }
        let sender = try r.node("sender")
        let message: GossipMessage
        switch kind {
        case .ping, .pingRequest, .ack, .nack:
            message = .membership(try readMembership(kind, &r))
        case .gossip:
            let round = try r.integer(UInt16.self, "round")
            message = .broadcast(.gossip(try r.document(documentID), round: round))
        case .ihave:
            message = .broadcast(.ihave(try readIHaves(&r)))
        case .graft:
            let flag = try r.flag("id flag")
            let id = flag ? try r.key("id") : nil
            message = .broadcast(.graft(id, round: try r.integer(UInt16.self, "round")))
        case .prune:
            message = .broadcast(.prune)
        case .digest:
            let reply = try r.flag("reply flag")
            message = .broadcast(.digest(try readDigest(&r), reply: reply))
        case .pull:
            message = .broadcast(.pull(try r.key("id")))
        case .document:
            message = .broadcast(.document(try r.document(documentID)))
        case .ackRelayed:
            message = .broadcast(.ackRelayed(try r.key("id")))
        case .revocations:
            let count = Int(try r.integer(UInt8.self, "id count"))
            var ids: [Key] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try r.key("revocation id")) }
            message = .broadcast(.revocations(ids))
        }
        guard r.buffer.readableBytes == 0 else { throw .malformed("\(r.buffer.readableBytes) stray bytes before the signature") }
        return Decoded(datagram: GossipDatagram(fleet: fleet, sender: sender, message: message), signed: signed, signature: signature)
    }

    /// A membership message's body: its sequence, incarnation, target (ping-requests only) and piggybacked updates.
    private static func readMembership(_ kind: Kind, _ r: inout Reader) throws(GossipWireError) -> MembershipMessage {
        let sequence = try r.integer(UInt32.self, "sequence")
        let incarnation = try r.integer(UInt32.self, "incarnation")
        let target = kind == .pingRequest ? try r.node("target") : nil
        let count = Int(try r.integer(UInt8.self, "update count"))
        var updates: [MemberUpdate] = []
        updates.reserveCapacity(count)
        for _ in 0..<count {
            let status = try r.integer(UInt8.self, "update status")
            let i = try r.integer(UInt32.self, "update incarnation")
            let member = try r.node("update node")
            switch status {
            case 0: updates.append(MemberUpdate(node: member, incarnation: i, status: .alive))
            case 1: updates.append(MemberUpdate(node: member, incarnation: i, status: .suspect(by: try r.node("suspecter"))))
            case 2: updates.append(MemberUpdate(node: member, incarnation: i, status: .dead(by: try r.node("declarer"))))
            default: throw .malformed("update status \(status)")
            }
        }
        switch kind {
        case .ping: return .ping(sequence: sequence, incarnation: incarnation, updates: updates)
        case .pingRequest: return .pingRequest(sequence: sequence, incarnation: incarnation, target: target!, updates: updates)
        case .ack: return .ack(sequence: sequence, incarnation: incarnation, updates: updates)
        default: return .nack(sequence: sequence, incarnation: incarnation, updates: updates)
        }
    }

    /// An IHAVE's entries.
    private static func readIHaves(_ r: inout Reader) throws(GossipWireError) -> [IHave] {
        let count = Int(try r.integer(UInt8.self, "entry count"))
        var entries: [IHave] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let id = try r.key("id")
            let round = try r.integer(UInt16.self, "round")
            let kind = try r.documentKind()
            let size = try r.integer(UInt32.self, "size")
            entries.append(IHave(id: id, round: round, kind: kind, size: size))
        }
        return entries
    }

    /// A version digest (anti-entropy), after its reply flag.
    private static func readDigest(_ r: inout Reader) throws(GossipWireError) -> VersionDigest {
        let highest = Version(try r.integer(UInt64.self, "highest accepted"))
        let announcement = try r.flag("announcement flag") ? try r.key("announcement") : nil
        let active = Version(try r.integer(UInt64.self, "active"))
        var ack: AckDigest?
        if try r.flag("ack flag") {
            let v = Version(try r.integer(UInt64.self, "ack version"))
            let id = try r.key("ack id")
            ack = AckDigest(version: v, id: id, delivered: try r.flag("delivered flag"))
        }
        let flags = try r.integer(UInt8.self, "digest flags")
        guard flags <= 3 else { throw .malformed("digest flags \(flags)") }
        var revocations: RevocationDigest?
        if flags & 2 != 0 {
            let count = try r.integer(UInt32.self, "revocation count")
            revocations = RevocationDigest(count: count, hash: try r.key("revocation hash"))
        }
        return VersionDigest(
            highestAccepted: highest, announcement: announcement, active: active, ack: ack, ledgerReachable: flags & 1 != 0,
            revocations: revocations)
    }

    static func kind(of message: GossipMessage) -> Kind {
        switch message {
        case .membership(.ping): .ping
        case .membership(.pingRequest): .pingRequest
        case .membership(.ack): .ack
        case .membership(.nack): .nack
        case .broadcast(.gossip): .gossip
        case .broadcast(.ihave): .ihave
        case .broadcast(.graft): .graft
        case .broadcast(.prune): .prune
        case .broadcast(.digest): .digest
        case .broadcast(.pull): .pull
        case .broadcast(.document): .document
        case .broadcast(.ackRelayed): .ackRelayed
        case .broadcast(.revocations): .revocations
        }
    }

    static func writeShort(_ text: String, into buffer: inout ByteBuffer) {
        let bytes = Array(text.utf8)
        precondition(bytes.count <= 255, "ids and fleet names are at most 128 bytes")
        buffer.writeInteger(UInt8(bytes.count))
        buffer.writeBytes(bytes)
    }

    static func writeDocument(_ d: GossipDocument, into buffer: inout ByteBuffer) {
        buffer.writeInteger(d.kind.rawValue)
        buffer.writeInteger(UInt32(d.bytes.count))
        buffer.writeBytes(d.bytes)
    }

    private struct Reader {
        var buffer: ByteBuffer

        mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ field: String) throws(GossipWireError) -> T {
            guard let v = buffer.readInteger(as: T.self) else { throw .truncated("ends before its \(field)") }
            return v
        }

        mutating func bytes(_ count: Int, _ field: String) throws(GossipWireError) -> [UInt8] {
            guard let b = buffer.readBytes(length: count) else { throw .truncated("ends inside its \(field)") }
            return b
        }

        mutating func short(_ field: String) throws(GossipWireError) -> String {
            let n = Int(try integer(UInt8.self, "\(field) length"))
            guard let text = String(validating: try bytes(n, field), as: UTF8.self) else { throw .malformed("\(field) is not UTF-8") }
            return text
        }

        mutating func node(_ field: String) throws(GossipWireError) -> NodeID {
            let text = try short(field)
            guard let id = NodeID(text) else { throw .malformed("\(field) \"\(text)\" is not a node id") }
            return id
        }

        mutating func key(_ field: String) throws(GossipWireError) -> Key { Key(digest: try bytes(32, field)) }

        mutating func flag(_ field: String) throws(GossipWireError) -> Bool {
            let b = try integer(UInt8.self, field)
            guard b <= 1 else { throw .malformed("\(field) is \(b), not 0 or 1") }
            return b == 1
        }

        mutating func documentKind() throws(GossipWireError) -> DocumentKind {
            let b = try integer(UInt8.self, "document kind")
            guard let k = DocumentKind(rawValue: b) else { throw .malformed("document kind \(b)") }
            return k
        }

        mutating func document(_ documentID: ([UInt8]) -> Key) throws(GossipWireError) -> GossipDocument {
            let kind = try documentKind()
            let length = Int(try integer(UInt32.self, "document length"))
            guard length <= GossipWire.maxDocumentBytes else {
                throw .malformed("a \(length)-byte document is over the \(GossipWire.maxDocumentBytes)-byte bound")
            }
            let bytes = try self.bytes(length, "document")
            return GossipDocument(id: documentID(bytes), kind: kind, bytes: bytes)
        }
    }
}

/// Why a datagram was refused; the shell logs it and drops the datagram (UDP has no link to close).
public enum GossipWireError: Error, Sendable, Hashable, CustomStringConvertible {
    case oversize(bytes: Int, limit: Int)
    case truncated(String)
    case unsupportedVersion(UInt8)
    case unknownKind(UInt8)
    case malformed(String)

    /// What is wrong with the datagram, in words.
    public var description: String {
        switch self {
        case .oversize(let bytes, let limit): "a \(bytes)-byte gossip datagram is over the \(limit)-byte limit"
        case .truncated(let detail): "truncated gossip datagram: \(detail)"
        case .unsupportedVersion(let v): "gossip wire version \(v); this Ben speaks \(GossipWire.version)"
        case .unknownKind(let k): "unknown gossip message kind \(k); the sender is not speaking Ben's gossip protocol"
        case .malformed(let detail): "malformed gossip datagram: \(detail)"
        }
    }
}
