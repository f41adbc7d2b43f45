public import BenCore
public import BenCrypto
public import BenProtocol
import Synchronization

/// How this process proves itself on peer links and whom it believes (issue 15): its node id and key, the
/// ledger keys it trusts, whether it wants records encrypted, and the credentials that change per deployment.
/// Shared by every link of the process; the mutable parts are behind a lock, read once per handshake.
public final class LinkSecurity: Sendable {
    public let fleet: FleetName
    public let node: NodeID
    let key: SigningKey
    public let encrypt: Bool
    let ledgerKeys: TrustedKeys
    private let state = Mutex(State())

    struct State {
        /// This node's own signed assignment (the newest it holds), presented in every handshake.
        var credential: SignedEnvelope?
        var credentialVersion: Version = 0
        /// Keys this side knows by id without a credential (the ledger: its topology's).
        var knownKeys: [NodeID: [UInt8]] = [:]
        /// Node keys the ledger revoked: a handshake proving one is refused, whoever it claims to be.
        var revoked = RevocationList()
    }

    /// - Parameters:
    ///   - node: `ledger` for the ledger.
    ///   - encrypt: records encrypted (the default); off, links are still authenticated but their records are
    ///     plain: only for measuring what encryption costs, or a network that is itself trusted.
    public init(fleet: FleetName, node: NodeID, key: SigningKey, ledgerKeys: TrustedKeys, encrypt: Bool = true) {
        self.fleet = fleet
        self.node = node
        self.key = key
        self.ledgerKeys = ledgerKeys
        self.encrypt = encrypt
    }

    /// Keeps this node's newest signed assignment to present from now on. Only an assignment that verifies, is
    /// this node's and carries this node's key is kept.
    public func learn(ownAssignment envelope: SignedEnvelope) {
        guard case .success(let a) = verify(envelope), a.node == node, a.key == key.publicKey.bytes else { return }
        state.withLock { s in
            if a.version >= s.credentialVersion {
                s.credential = envelope
                s.credentialVersion = a.version
            }
        }
    }

    /// Presents `envelope` as this side's credential as given, unchecked: for tools and tests that play a node
    /// (the far side checks it either way). Nodes use `learn(ownAssignment:)`.
    public func present(_ envelope: SignedEnvelope) {
        state.withLock { $0.credential = envelope }
    }

    /// The ledger: every node's key, from the topology in force.
    public func know(keys: [NodeID: PublicKey]) {
        state.withLock { $0.knownKeys = keys.mapValues(\.bytes) }
    }

    /// The node keys the ledger revoked, as this process holds them now: every handshake from here on checks them.
    public func distrust(_ list: RevocationList) {
        state.withLock { $0.revoked = list }
    }

    /// Checks an assignment's ledger signature and reads it.
    public func verify(_ envelope: SignedEnvelope) -> Result<Assignment, LinkAuthorization.Refusal> {
        do {
            let assignment = try envelope.open(Assignment.self, context: .plan, trusted: ledgerKeys)
            guard assignment.fleet == fleet else { return .failure(.init("its assignment is for fleet \(assignment.fleet)")) }
            return .success(assignment)
        } catch {
            return .failure(.init("its assignment is not the ledger's: \(error)"))
        }
    }

    /// Reads assignment bytes as they arrived in a handshake; nil for none, a refusal for bad ones.
    func verify(credentialBytes bytes: [UInt8]) -> Result<Assignment?, LinkAuthorization.Refusal> {
        guard !bytes.isEmpty else { return .success(nil) }
        do {
            let envelope = try SignedEnvelope.decode(bytes, document: Assignment.documentName, maxBytes: Assignment.maxBytes)
            return verify(envelope).map { $0 }
        } catch {
            return .failure(.init("its assignment is unreadable: \(error)"))
        }
    }

    /// This side, for a handshake.
    func identity() -> LinkHandshake.Identity {
        let credential = state.withLock { $0.credential }
        return LinkHandshake.Identity(
            fleet: fleet, node: node, key: key.publicKey.bytes, credential: credential?.canonicalBytes ?? [],
            encrypt: encrypt, suites: LinkCipherSuite.available.map(\.rawValue))
    }

    /// Decides a proven claim (`LinkAuthorization`), with the credential it presented and, when dialling, the
    /// assignment this side holds for the node it dialled.
    func decide(_ claim: LinkHandshake.Claim, expected: SignedEnvelope?) -> Result<LinkAuthorization.Standing, LinkAuthorization.Refusal> {
        if let key = PublicKey(bytes: claim.key), let problem = state.withLock({ $0.revoked }).refusal(keyID: key.keyID) {
            return .failure(.init("its key is revoked: \(problem)"))
        }
        let credential: Assignment?
        switch verify(credentialBytes: claim.credential) {
        case .success(let a): credential = a
        case .failure(let refusal): return .failure(refusal)
        }
        let held = expected.flatMap { try? verify($0).get() }
        let trust = LinkAuthorization.Trust(
            fleet: fleet, ledgerKeys: ledgerKeys.keys.map(\.bytes), knownKeys: state.withLock { $0.knownKeys })
        return LinkAuthorization.decide(claim, credential: credential, expected: held, trust: trust)
    }

    var crypto: HandshakeCrypto { HandshakeCrypto(key: key) }
}

/// The handshake's cryptography, from libsodium.
struct HandshakeCrypto: LinkHandshakeCrypto {
    let key: SigningKey

    func digest(_ bytes: [UInt8]) -> [UInt8] { BLAKE2b.digest(bytes) }
    func sign(_ message: [UInt8]) -> [UInt8] { key.sign(message, context: .link) }
    func verify(_ signature: [UInt8], by key: [UInt8], over message: [UInt8]) -> Bool {
        PublicKey(bytes: key)?.isValidLinkSignature(signature, over: message) ?? false
    }
}

/// Who is on the far side of an established link.
public struct LinkPeerInfo: Sendable, Hashable {
    public var standing: LinkAuthorization.Standing
    public var suite: LinkCipherSuite
    public var node: NodeID { standing.node }
}

/// Why a link was refused during its handshake, for the log and the `ben_links_refused_total` reason.
public struct LinkRefused: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case handshake, unauthorized, limit, idle, timeout
    }

    public var reason: Reason
    public var detail: String
    public var description: String { detail }
}
