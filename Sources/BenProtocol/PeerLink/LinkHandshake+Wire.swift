public import BenCore
import NIOCore

extension LinkHandshake {
    /// The four handshake messages (docs/formats.md, "Peer link security"). Each travels as a u32 big-endian
    /// length and then its bytes, at most `maxMessageBytes`; every integer is big-endian.
    public enum Message: Sendable, Hashable {
        case clientHello(ClientHello)
        case serverHello(ServerHello)
        case clientFinish(signature: [UInt8])
        case serverFinish(refusal: String?)
    }

    /// The opening message: who the client is, whom it wants, and what it offers.
    public struct ClientHello: Sendable, Hashable {
        /// The fleet the client belongs to.
        public var fleet: FleetName
        /// The client's node id.
        public var node: NodeID
        /// The client's Ed25519 public key.
        public var key: [UInt8]
        /// The client's ephemeral X25519 public key.
        public var ephemeral: [UInt8]
        /// The node the client means to reach (`ledger` for the ledger's listener).
        public var target: NodeID
        /// Whether the client wants records encrypted.
        public var encrypt: Bool
        /// The cipher suites the client can run, best first (raw `LinkCipherSuite` values).
        public var suites: [UInt8]
        /// The client's own signed assignment (empty when it has none: the ledger, a node not yet planned).
        public var credential: [UInt8]
    }

    /// The server's answer, signed over the transcript so far.
    public struct ServerHello: Sendable, Hashable {
        /// The server's node id.
        public var node: NodeID
        /// The server's Ed25519 public key.
        public var key: [UInt8]
        /// The server's ephemeral X25519 public key.
        public var ephemeral: [UInt8]
        /// The cipher suite the server chose (0: records are plain).
        public var suite: UInt8
        /// The server's signed assignment, or empty.
        public var credential: [UInt8]
        /// The server's Ed25519 signature over the transcript so far.
        public var signature: [UInt8]
    }

    /// The magic and version every ClientHello starts with: a stray protocol is refused on its first bytes.
    static let magic: [UInt8] = Array("BENL".utf8) + [1]
    /// The largest handshake message: a signed assignment and a few keys fit many times over.
    public static let maxMessageBytes = 64 << 10

    /// Which handshake message a frame holds: its first byte.
    public enum Kind: UInt8 {
        case clientHello = 1
        case serverHello = 2
        case clientFinish = 3
        case serverFinish = 4
    }

    /// The message's bytes (without the length prefix). `unsigned` leaves out a ServerHello's signature: the
    /// bytes the server signs.
    static func encode(_ message: Message, unsigned: Bool = false) -> [UInt8] {
        var b = ByteBuffer()
        switch message {
        case .clientHello(let h):
            b.writeInteger(Kind.clientHello.rawValue)
            b.writeBytes(magic)
            b.writeShortString(h.fleet.rawValue)
            b.writeShortString(h.node.rawValue)
            b.writeBytes(h.key)
            b.writeBytes(h.ephemeral)
            b.writeShortString(h.target.rawValue)
            b.writeInteger(UInt8(h.encrypt ? 1 : 0))
            b.writeInteger(UInt8(h.suites.count))
            b.writeBytes(h.suites)
            b.writeInteger(UInt32(h.credential.count))
            b.writeBytes(h.credential)
        case .serverHello(let h):
            b.writeInteger(Kind.serverHello.rawValue)
            b.writeShortString(h.node.rawValue)
            b.writeBytes(h.key)
            b.writeBytes(h.ephemeral)
            b.writeInteger(h.suite)
            b.writeInteger(UInt32(h.credential.count))
            b.writeBytes(h.credential)
            if !unsigned { b.writeBytes(h.signature) }
        case .clientFinish(let signature):
            b.writeInteger(Kind.clientFinish.rawValue)
            b.writeBytes(signature)
        case .serverFinish(let refusal):
            b.writeInteger(Kind.serverFinish.rawValue)
            b.writeInteger(UInt8(refusal == nil ? 1 : 0))
            let text = Array((refusal ?? "").utf8.prefix(1024))
            b.writeInteger(UInt16(text.count))
            b.writeBytes(text)
        }
        return Array(b.readableBytesView)
    }

    /// Reads one message; nil with a reason when it is malformed.
    static func decode(_ bytes: [UInt8]) -> Result<Message, WireError> {
        var b = ByteBuffer(bytes: bytes)
        guard let kindByte = b.readInteger(as: UInt8.self), let kind = Kind(rawValue: kindByte) else {
            return .failure(WireError("not a Ben link handshake (unknown message kind)"))
        }
        let message: Message?
        switch kind {
        case .clientHello:
            guard b.readBytes(length: magic.count) == magic else {
                return .failure(WireError("not a Ben link handshake, or another version of it"))
            }
            message = readClientHello(&b).map(Message.clientHello)
        case .serverHello:
            message = readServerHello(&b).map(Message.serverHello)
        case .clientFinish:
            message = b.readBytes(length: 64).map { Message.clientFinish(signature: $0) }
        case .serverFinish:
            if let ok = b.readInteger(as: UInt8.self), let n = b.readInteger(as: UInt16.self), let text = b.readBytes(length: Int(n)) {
                message = .serverFinish(refusal: ok == 1 ? nil : String(decoding: text, as: UTF8.self))
            } else {
                message = nil
            }
        }
        guard let message, b.readableBytes == 0 else { return .failure(WireError("a malformed \(kind) message")) }
        return .success(message)
    }

    private static func readClientHello(_ b: inout ByteBuffer) -> ClientHello? {
        guard let fleetText = b.readShortString(), let fleet = FleetName(fleetText),
            let nodeText = b.readShortString(), let node = NodeID(nodeText),
            let key = b.readBytes(length: 32), let ephemeral = b.readBytes(length: 32),
            let targetText = b.readShortString(), let target = NodeID(targetText),
            let encrypt = b.readInteger(as: UInt8.self), let n = b.readInteger(as: UInt8.self), let suites = b.readBytes(length: Int(n)),
            let c = b.readInteger(as: UInt32.self), c <= maxMessageBytes, let credential = b.readBytes(length: Int(c))
        else { return nil }
        return ClientHello(
            fleet: fleet, node: node, key: key, ephemeral: ephemeral, target: target, encrypt: encrypt == 1, suites: suites,
            credential: credential)
    }

    private static func readServerHello(_ b: inout ByteBuffer) -> ServerHello? {
        guard let nodeText = b.readShortString(), let node = NodeID(nodeText),
            let key = b.readBytes(length: 32), let ephemeral = b.readBytes(length: 32), let suite = b.readInteger(as: UInt8.self),
            let c = b.readInteger(as: UInt32.self), c <= maxMessageBytes, let credential = b.readBytes(length: Int(c)),
            let signature = b.readBytes(length: 64)
        else { return nil }
        return ServerHello(node: node, key: key, ephemeral: ephemeral, suite: suite, credential: credential, signature: signature)
    }

    /// A handshake message that could not be read.
    public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with it.
        public var description: String
        init(_ description: String) { self.description = description }
    }
}

extension ByteBuffer {
    fileprivate mutating func writeShortString(_ s: String) {
        let bytes = Array(s.utf8.prefix(255))
        writeInteger(UInt8(bytes.count))
        writeBytes(bytes)
    }

    fileprivate mutating func readShortString() -> String? {
        guard let n = readInteger(as: UInt8.self), let bytes = readBytes(length: Int(n)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
