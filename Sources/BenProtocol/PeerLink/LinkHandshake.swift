public import BenCore

/// The handshake every peer link opens with (issue 15, DESIGN §9 `ben/link/v1`), before any frame moves.
///
/// Each side proves it holds the Ed25519 key of the id it claims by signing the transcript, which includes both
/// sides' fresh X25519 keys: a signature made for one connection is worth nothing on another. The shell then
/// decides whether the proven key is that id's key (`LinkAuthorization`: a trusted ledger key, or a ledger-signed
/// assignment), and the session keys come from the ephemeral keys (forward secrecy):
///
///     client                                   server
///     ClientHello  fleet, id, key, eph, target,
///                  encrypt?, suites, credential  →
///                                              ←  ServerHello  id, key, eph, suite, credential,
///                                                              sig("server" ‖ H(CH) ‖ H(SH unsigned))
///     (shell: is that the target's key?)
///     ClientFinish sig("client" ‖ H(CH) ‖ H(SH)) →
///                                                 (shell: is that the client's key?)
///                                              ←  ServerFinish ok | refused: why
///
/// Pure: the shell brings the ephemeral key, the hashing and the signatures (`LinkHandshakeCrypto`), and frames
/// the messages on the wire.
public struct LinkHandshake: Sendable {
    /// This side of the link.
    public struct Identity: Sendable, Hashable {
        /// The fleet.
        public var fleet: FleetName
        /// This node's id.
        public var node: NodeID
        /// This side's Ed25519 public key.
        public var key: [UInt8]
        /// This side's own signed assignment, if it has one.
        public var credential: [UInt8]
        /// Whether this side wants records encrypted; either side wanting it is enough.
        public var encrypt: Bool
        /// The cipher suites this side can run, best first.
        public var suites: [UInt8]

        /// This side, with its key, its credential (a signed assignment, or empty), whether it wants records encrypted, and the suites it
        /// can run.
        public init(fleet: FleetName, node: NodeID, key: [UInt8], credential: [UInt8], encrypt: Bool, suites: [UInt8]) {
            self.fleet = fleet
            self.node = node
            self.key = key
            self.credential = credential
            self.encrypt = encrypt
            self.suites = suites
        }
    }

    /// What the far side claims and has proven: it signed this handshake's transcript with `key`.
    public struct Claim: Sendable, Hashable {
        /// The node id the far side claims.
        public var node: NodeID
        /// Its Ed25519 public key, with which it signed the transcript.
        public var key: [UInt8]
        /// Its signed assignment, as it sent it (may be empty); the shell checks the signature.
        public var credential: [UInt8]

        /// A claim of `node` with `key`.
        public init(node: NodeID, key: [UInt8], credential: [UInt8]) {
            self.node = node
            self.key = key
            self.credential = credential
        }
    }

    /// A finished handshake.
    public struct Session: Sendable, Hashable {
        /// Who the far side is.
        public var peer: Claim
        /// The record cipher both sides use (a raw `LinkCipherSuite` value; 0: records are plain).
        public var suite: UInt8
        /// The far side's ephemeral X25519 public key.
        public var peerEphemeral: [UInt8]
        /// BLAKE2b of both hellos: the session keys are bound to it.
        public var transcript: [UInt8]
        /// Whether this side dialled.
        public var isClient: Bool
    }

    /// Which side of the link this is.
    public enum Role: Sendable, Hashable {
        /// Dials `target`.
        case client(target: NodeID)
        case server
    }

    /// What the shell tells the handshake.
    public enum Input: Sendable, Hashable {
        /// The link connected (the client speaks first).
        case start
        /// One whole message arrived.
        case received([UInt8])
        /// The shell's decision on the far side's claim (`LinkAuthorization`): nil to accept, or why not.
        case decided(refusal: String?)
    }

    /// What the handshake asks the shell to do.
    public enum Action: Sendable, Hashable {
        /// Write one message (the shell adds the length prefix).
        case send([UInt8])
        /// Decide whether the far side's proven key is the key of the id it claims, then answer `.decided`.
        case checkPeer(Claim)
        /// Done: records may flow, under `session.suite`.
        case established(Session)
        /// Close the link, with why (for the log; a refusal was already sent when there is one to send).
        case fail(String)
    }

    enum Phase: Sendable, Hashable {
        case idle
        /// Client: sent the hello.
        case awaitingServerHello(clientHello: [UInt8])
        /// Client: checking the server's claim.
        case checkingServer(transcript: [UInt8], serverHello: [UInt8], session: Session)
        /// Client: sent its finish.
        case awaitingServerFinish(Session)
        /// Server: waiting for the client's first word.
        case awaitingClientHello
        /// Server: sent its hello.
        case awaitingClientFinish(clientHello: [UInt8], serverHello: [UInt8], session: Session)
        /// Server: checking the client's claim.
        case checkingClient(Session)
        case done
        case failed
    }

    /// This side.
    public let identity: Identity
    /// Client or server.
    public let role: Role
    let ephemeral: [UInt8]
    let crypto: any LinkHandshakeCrypto
    private(set) var phase: Phase

    /// - Parameter ephemeral: this side's fresh X25519 public key (the shell keeps its secret half).
    public init(identity: Identity, role: Role, ephemeral: [UInt8], crypto: any LinkHandshakeCrypto) {
        self.identity = identity
        self.role = role
        self.ephemeral = ephemeral
        self.crypto = crypto
        switch role {
        case .client: phase = .idle
        case .server: phase = .awaitingClientHello
        }
    }

    /// Whether the handshake finished with a session.
    public var isDone: Bool { phase == .done }

    /// Takes one input and returns what to do, in order.
    public mutating func handle(_ input: Input) -> [Action] {
        switch input {
        case .start: return onStart()
        case .received(let bytes): return onReceived(bytes)
        case .decided(let refusal): return onDecided(refusal)
        }
    }

    mutating func onStart() -> [Action] {
        guard case .client(let target) = role, phase == .idle else { return [] }
        let hello = ClientHello(
            fleet: identity.fleet, node: identity.node, key: identity.key, ephemeral: ephemeral, target: target,
            encrypt: identity.encrypt, suites: identity.suites, credential: identity.credential)
        let bytes = Self.encode(.clientHello(hello))
        phase = .awaitingServerHello(clientHello: bytes)
        return [.send(bytes)]
    }

    mutating func onReceived(_ bytes: [UInt8]) -> [Action] {
        let message: Message
        switch Self.decode(bytes) {
        case .success(let m): message = m
        case .failure(let e): return fail(e.description)
        }
        switch (phase, message) {
        case (.awaitingClientHello, .clientHello(let hello)):
            return onClientHello(hello, bytes: bytes)
        case (.awaitingServerHello(let clientHello), .serverHello(let hello)):
            return onServerHello(hello, bytes: bytes, clientHello: clientHello)
        case (.awaitingClientFinish(let clientHello, let serverHello, let session), .clientFinish(let signature)):
            let signed = Self.signedPart("client", crypto.digest(clientHello), crypto.digest(serverHello))
            guard crypto.verify(signature, by: session.peer.key, over: signed) else {
                return fail("the client's handshake signature does not verify with the key it presented")
            }
            phase = .checkingClient(session)
            return [.checkPeer(session.peer)]
        case (.awaitingServerFinish(let session), .serverFinish(let refusal)):
            if let refusal { return fail("the peer refused this link: \(refusal)") }
            phase = .done
            return [.established(session)]
        case (.awaitingServerHello, .serverFinish(let refusal?)), (.checkingServer, .serverFinish(let refusal?)):
            // The server refused at once (wrong node, wrong fleet): say why, not just that something was off.
            return fail("the peer refused this link: \(refusal)")
        default:
            return fail("an unexpected handshake message")
        }
    }

    private mutating func onClientHello(_ hello: ClientHello, bytes: [UInt8]) -> [Action] {
        guard hello.fleet == identity.fleet else { return refuse("this node is in fleet \(identity.fleet), not \(hello.fleet)") }
        guard hello.target == identity.node else {
            return refuse("this is \(identity.node), not \(hello.target) (check the topology's address for \(hello.target))")
        }
        let suite: UInt8
        if !hello.encrypt && !identity.encrypt {
            suite = 0
        } else if let common = identity.suites.first(where: { $0 != 0 && hello.suites.contains($0) }) {
            suite = common
        } else {
            return refuse("no cipher suite in common (offered \(hello.suites), this side runs \(identity.suites))")
        }
        var reply = ServerHello(
            node: identity.node, key: identity.key, ephemeral: ephemeral, suite: suite, credential: identity.credential, signature: [])
        let unsigned = Self.encode(.serverHello(reply), unsigned: true)
        reply.signature = crypto.sign(Self.signedPart("server", crypto.digest(bytes), crypto.digest(unsigned)))
        let full = Self.encode(.serverHello(reply))
        let session = Session(
            peer: Claim(node: hello.node, key: hello.key, credential: hello.credential), suite: suite, peerEphemeral: hello.ephemeral,
            transcript: crypto.digest(bytes + full), isClient: false)
        phase = .awaitingClientFinish(clientHello: bytes, serverHello: full, session: session)
        return [.send(full)]
    }

    private mutating func onServerHello(_ hello: ServerHello, bytes: [UInt8], clientHello: [UInt8]) -> [Action] {
        guard case .client(let target) = role, hello.node == target else {
            return fail("the peer answered as \(hello.node), not the node this side dialled")
        }
        let unsigned = Self.encode(.serverHello(hello), unsigned: true)
        let signed = Self.signedPart("server", crypto.digest(clientHello), crypto.digest(unsigned))
        guard crypto.verify(hello.signature, by: hello.key, over: signed) else {
            return fail("the peer's handshake signature does not verify with the key it presented")
        }
        let acceptable = hello.suite == 0 ? !identity.encrypt : identity.suites.contains(hello.suite)
        guard acceptable else { return fail("the peer chose cipher suite \(hello.suite), which this side did not offer") }
        let session = Session(
            peer: Claim(node: hello.node, key: hello.key, credential: hello.credential), suite: hello.suite, peerEphemeral: hello.ephemeral,
            transcript: crypto.digest(clientHello + bytes), isClient: true)
        phase = .checkingServer(transcript: clientHello, serverHello: bytes, session: session)
        return [.checkPeer(session.peer)]
    }

    mutating func onDecided(_ refusal: String?) -> [Action] {
        switch phase {
        case .checkingServer(let clientHello, let serverHello, let session):
            if let refusal { return fail("the peer is not who this side dialled: \(refusal)") }
            let signature = crypto.sign(Self.signedPart("client", crypto.digest(clientHello), crypto.digest(serverHello)))
            phase = .awaitingServerFinish(session)
            return [.send(Self.encode(.clientFinish(signature: signature)))]
        case .checkingClient(let session):
            if let refusal { return refuse(refusal) }
            phase = .done
            return [.send(Self.encode(.serverFinish(refusal: nil))), .established(session)]
        default:
            return []
        }
    }

    /// Server: tells the client why, then fails.
    private mutating func refuse(_ reason: String) -> [Action] {
        phase = .failed
        return [.send(Self.encode(.serverFinish(refusal: reason))), .fail(reason)]
    }

    private mutating func fail(_ reason: String) -> [Action] {
        phase = .failed
        return [.fail(reason)]
    }

    /// What a side signs (under `ben/link/v1`): its role, then the transcript hashes.
    static func signedPart(_ role: String, _ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        Array(role.utf8) + [0] + a + b
    }
}

/// What the handshake needs from cryptography; the shell brings it (BenCrypto), so the machine stays pure.
public protocol LinkHandshakeCrypto: Sendable {
    /// BLAKE2b-256.
    func digest(_ bytes: [UInt8]) -> [UInt8]
    /// This side's Ed25519 signature over `ben/link/v1`, 0x00, `message`.
    func sign(_ message: [UInt8]) -> [UInt8]
    /// Whether `signature` is `key`'s over `ben/link/v1`, 0x00, `message`.
    func verify(_ signature: [UInt8], by key: [UInt8], over message: [UInt8]) -> Bool
}
