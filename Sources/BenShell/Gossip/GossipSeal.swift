public import BenCore
public import BenCrypto
public import BenProtocol
public import NIOCore

/// The arithmetic around a gossip datagram, for the shells: signing what a machine sends, and reading and checking
/// what arrives before any machine sees it. The decision about a refused datagram stays the machine's (it gets
/// `.refused(reason)` and changes nothing).
public enum GossipSeal {
    /// Encodes `datagram` and signs it with `key` (context `ben/gossip/v1` over every byte before the signature).
    public static func seal(_ datagram: GossipDatagram, key: SigningKey, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: GossipWire.size(of: datagram))
        GossipWire.encodeUnsigned(datagram, into: &buffer)
        let signature = key.sign(Array(buffer.readableBytesView), context: .gossip)
        buffer.writeBytes(signature)
        return buffer
    }

    /// What arrived, read and checked.
    public enum Opened: Sendable {
        /// A datagram that decoded, with the verdict on its signatures for the machine.
        case message(from: NodeID, GossipMessage, GossipAuthentication)
        /// Bytes that are not a gossip datagram at all (no sender to name); dropped.
        case unreadable(String)
    }

    /// Reads a datagram and checks it: its fleet, its sender's signature against the sender's topology key (the
    /// ledger's: any trusted ledger key), and the signature of any document it carries (an announcement, activation,
    /// alarm or revocation: a trusted ledger key, for this fleet; an ack: the key of the node it names). Anything else
    /// is `.refused` with the reason.
    ///
    /// A datagram signed with a key in `revoked` is refused, and so is a carried ack signed with one.
    ///
    /// - Parameter maxBytes: 1 400 for a datagram; more for a message that came over a peer link.
    public static func open(
        _ bytes: ByteBuffer, maxBytes: Int = GossipWire.defaultMaxBytes, directory: GossipDirectory, revoked: RevocationList = RevocationList()
    ) -> Opened {
        let decoded: GossipWire.Decoded
        do {
            decoded = try GossipWire.decode(bytes, maxBytes: maxBytes) { BLAKE2b.key(of: $0) }
        } catch {
            return .unreadable(error.description)
        }
        let datagram = decoded.datagram
        let sender = datagram.sender
        func refused(_ reason: String) -> Opened { .message(from: sender, datagram.message, .refused(reason)) }
        guard datagram.fleet == directory.fleet else { return refused("a datagram for fleet \(datagram.fleet), not \(directory.fleet)") }
        guard let keys = directory.memberKeys[sender] else { return refused("\(sender) is not in the topology") }
        let signed = Array(decoded.signed.readableBytesView)
        guard let signer = keys.keys.first(where: { $0.isValidSignature(decoded.signature, over: signed, context: .gossip) }) else {
            return refused("its signature does not verify against \(sender)'s key in the topology")
        }
        if let problem = revoked.refusal(keyID: signer.keyID) { return refused("it is signed with a revoked key: \(problem)") }
        if let document = carried(datagram.message), let problem = check(document, directory: directory, revoked: revoked) {
            return refused("it carries \(document.kind == .revocation ? "a" : "an") \(document.kind) that \(problem)")
        }
        return .message(from: sender, datagram.message, .verified)
    }

    static func carried(_ message: GossipMessage) -> GossipDocument? {
        switch message {
        case .broadcast(.gossip(let document, _)), .broadcast(.document(let document)): document
        default: nil
        }
    }

    /// Why a carried document must not be believed, or nil when its own signature checks out.
    static func check(_ document: GossipDocument, directory: GossipDirectory, revoked: RevocationList = RevocationList()) -> String? {
        switch document.kind {
        case .announcement:
            do {
                let envelope = try SignedEnvelope.decode(document.bytes, document: "announcement", maxBytes: Announcement.maxBytes)
                try envelope.verify(context: .announce, trusted: directory.ledgerKeys)
                return nil
            } catch {
                return "does not verify: \(error)"
            }
        case .ack:
            do {
                let envelope = try SignedEnvelope.decode(document.bytes, document: "ack", maxBytes: GossipWire.maxDocumentBytes)
                let ack = try envelope.document(as: Ack.self)
                guard ack.fleet == directory.fleet else { return "is for fleet \(ack.fleet)" }
                guard ack.node != GossipDirectory.ledger, let keys = directory.memberKeys[ack.node] else {
                    return "names \(ack.node), which is not in the topology"
                }
                let signer = try envelope.verify(context: .ack, trusted: keys)
                if let problem = revoked.refusal(keyID: signer) { return "is signed with a revoked key: \(problem)" }
                return nil
            } catch {
                return "does not verify: \(error)"
            }
        case .activation:
            return ledgerSigned(document, as: Activation.self, context: .activate, directory: directory) { $0.fleet }
        case .alarm:
            return ledgerSigned(document, as: Alarm.self, context: .alarm, directory: directory) { $0.fleet }
        case .revocation:
            return ledgerSigned(document, as: Revocation.self, context: .revoke, directory: directory) { $0.fleet }
        }
    }

    /// A document of the ledger's for this fleet: read as a `D`, for `directory`'s fleet, signed in `context` by a
    /// trusted ledger key. Nil when it checks out, else why not.
    private static func ledgerSigned<D: CanonicalDocument>(
        _ document: GossipDocument, as type: D.Type, context: SignatureContext, directory: GossipDirectory, fleet: (D) -> FleetName
    ) -> String? {
        do {
            let (envelope, read) = try SignedEnvelope.decode(document.bytes, as: D.self)
            guard fleet(read) == directory.fleet else { return "is for another fleet" }
            try envelope.verify(context: context, trusted: directory.ledgerKeys)
            return nil
        } catch {
            return "does not verify: \(error)"
        }
    }
}
