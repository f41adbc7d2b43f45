public import BenCore
public import NIOCore

/// Encodes and decodes peer frames over `ByteBuffer`. Pure: no channel, no IO; the NIO handlers in
/// BenPeerLink and the tests drive it.
public enum PeerFrameCodec {
    /// Bounds on what a decoder accepts. A frame over its kind's bound is refused as soon as its length prefix
    /// and kind byte arrive, before its body is buffered.
    public struct Limits: Sendable, Hashable {
        /// CHUNK frames: the fleet's largest chunk plus header room.
        public var maxChunkFrame: Int
        /// PLAN, MANIFEST and ACK frames (documents).
        public var maxDocumentFrame: Int
        /// HELLO frames (announcement envelope and have-bitmap).
        public var maxHelloFrame: Int
        /// NACK and BYE frames.
        public var maxControlFrame: Int

        /// Limits on each kind of frame, in bytes; larger frames are refused unread.
        public init(
            maxChunkBytes: Int = 64 << 20, maxDocumentFrame: Int = 64 << 20, maxHelloFrame: Int = 1 << 20,
            maxControlFrame: Int = 1 << 20
        ) {
            self.maxChunkFrame = maxChunkBytes + 1024
            self.maxDocumentFrame = maxDocumentFrame
            self.maxHelloFrame = maxHelloFrame
            self.maxControlFrame = maxControlFrame
        }

        /// The largest frame of `kind` the decoder takes.
        public func limit(for kind: PeerFrame.Kind) -> Int {
            switch kind {
            case .chunk: maxChunkFrame
            case .plan, .manifest, .ack: maxDocumentFrame
            case .hello: maxHelloFrame
            case .nack, .bye: maxControlFrame
            case .gossip: GossipWire.maxDocumentBytes + 4096
            }
        }
    }

    static let maxReasonBytes = 1024

    // MARK: Encoding

    /// Appends `frame`, length prefix included, to `buffer`.
    public static func encode(_ frame: PeerFrame, into buffer: inout ByteBuffer) {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(frame.kind.rawValue)
        let header = frame.header
        let fleet = Array(header.fleet.rawValue.utf8)
        buffer.writeInteger(UInt8(fleet.count))
        buffer.writeBytes(fleet)
        buffer.writeInteger(header.version.rawValue)
        switch frame {
        case .hello(let hello):
            buffer.writeInteger(hello.protocolVersion)
            buffer.writeInteger(hello.purpose.rawValue)
            let node = Array(hello.node.rawValue.utf8)
            buffer.writeInteger(UInt8(node.count))
            buffer.writeBytes(node)
            buffer.writeInteger(UInt32(hello.announcement.count))
            buffer.writeBytes(hello.announcement)
            buffer.writeInteger(UInt8(hello.hasManifest ? 1 : 0))
            buffer.writeInteger(UInt32(hello.have.count))
            buffer.writeBytes(hello.have.bytes)
        case .plan(_, let bytes), .manifest(_, let bytes), .ack(_, let bytes), .gossip(_, let bytes):
            buffer.writeBytes(bytes)
        case .chunk(_, let index, let key, var bytes):
            buffer.writeInteger(index)
            buffer.writeBytes(key.bytes)
            buffer.writeBuffer(&bytes)
        case .nack(_, let entries):
            buffer.writeInteger(UInt32(entries.count))
            for entry in entries {
                buffer.writeInteger(entry.index)
                buffer.writeInteger(entry.code.rawValue)
            }
        case .bye(_, let code, let reason):
            buffer.writeInteger(code.rawValue)
            buffer.writeBytes(Array(reason.utf8.prefix(maxReasonBytes)))
        }
        let length = buffer.writerIndex - lengthIndex - 4
        buffer.setInteger(UInt32(length), at: lengthIndex)
    }

    /// A CHUNK frame's bytes up to its payload (length prefix, kind, header, index, key): a writer sends this and
    /// then the payload buffer as it is, so the chunk is never copied into the frame.
    public static func encodeChunkPrefix(_ header: FrameHeader, index: UInt32, key: Key, payloadLength: Int, into buffer: inout ByteBuffer)
    {
        let lengthIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(PeerFrame.Kind.chunk.rawValue)
        let fleet = Array(header.fleet.rawValue.utf8)
        buffer.writeInteger(UInt8(fleet.count))
        buffer.writeBytes(fleet)
        buffer.writeInteger(header.version.rawValue)
        buffer.writeInteger(index)
        buffer.writeBytes(key.bytes)
        let length = buffer.writerIndex - lengthIndex - 4 + payloadLength
        buffer.setInteger(UInt32(length), at: lengthIndex)
    }

    /// `frame` encoded in a buffer of its own.
    public static func encode(_ frame: PeerFrame, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        encode(frame, into: &buffer)
        return buffer
    }

    // MARK: Decoding

    /// Reads one whole frame from the front of `buffer` if it is all there; returns nil (consuming nothing)
    /// when more bytes are needed.
    /// - Throws: `FrameError` for anything malformed or over its bound; the link must then be closed.
    public static func decode(_ buffer: inout ByteBuffer, limits: Limits) throws(FrameError) -> PeerFrame? {
        guard buffer.readableBytes >= 5 else { return nil }
        let start = buffer.readerIndex
        let length = Int(buffer.getInteger(at: start, as: UInt32.self)!)
        let kindByte = buffer.getInteger(at: start + 4, as: UInt8.self)!
        guard let kind = PeerFrame.Kind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let limit = limits.limit(for: kind)
        guard length <= limit else { throw .oversize(kind: kind, length: length, limit: limit) }
        guard length >= 1 else { throw .malformed(kind: kind, detail: "empty frame") }
        guard buffer.readableBytes >= 4 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        var body = buffer.readSlice(length: length - 1)!
        do {
            let frame = try decodeBody(kind: kind, body: &body)
            guard body.readableBytes == 0 else { throw FrameError.malformed(kind: kind, detail: "\(body.readableBytes) trailing bytes") }
            return frame
        } catch let error as FrameError {
            throw error
        } catch {
            throw .malformed(kind: kind, detail: "\(error)")
        }
    }

    static func decodeBody(kind: PeerFrame.Kind, body: inout ByteBuffer) throws(FrameError) -> PeerFrame {
        var reader = BodyReader(kind: kind, buffer: body)
        defer { body = reader.buffer }
        let fleetText = try reader.shortString("fleet")
        guard let fleet = FleetName(fleetText) else { throw .malformed(kind: kind, detail: "fleet \"\(fleetText)\" is not a fleet name") }
        let version = Version(try reader.integer(UInt64.self, "version"))
        let header = FrameHeader(fleet: fleet, version: version)
        switch kind {
        case .hello:
            let protocolVersion = try reader.integer(UInt8.self, "protocol version")
            guard protocolVersion == Hello.protocolVersion else {
                throw .malformed(kind: kind, detail: "protocol version \(protocolVersion); this Ben speaks \(Hello.protocolVersion)")
            }
            let purposeByte = try reader.integer(UInt8.self, "purpose")
            guard let purpose = Hello.Purpose(rawValue: purposeByte) else { throw .malformed(kind: kind, detail: "purpose \(purposeByte)") }
            let nodeText = try reader.shortString("node")
            guard let node = NodeID(nodeText) else { throw .malformed(kind: kind, detail: "node \"\(nodeText)\" is not a node id") }
            let announcementLength = Int(try reader.integer(UInt32.self, "announcement length"))
            let announcement = try reader.bytes(announcementLength, "announcement")
            let hasManifest = try reader.integer(UInt8.self, "has-manifest flag")
            guard hasManifest <= 1 else { throw .malformed(kind: kind, detail: "has-manifest flag \(hasManifest)") }
            let haveCount = Int(try reader.integer(UInt32.self, "have count"))
            guard haveCount <= 1 << 24 else { throw .malformed(kind: kind, detail: "have-set of \(haveCount) chunks") }
            let haveBytes = try reader.bytes((haveCount + 7) / 8, "have bitmap")
            guard let have = ChunkSet(count: haveCount, bytes: haveBytes) else {
                throw .malformed(kind: kind, detail: "have bitmap has bits beyond its count")
            }
            return .hello(
                Hello(
                    header: header, purpose: purpose, node: node, announcement: announcement, hasManifest: hasManifest == 1,
                    have: have, protocolVersion: protocolVersion))
        case .plan:
            return .plan(header, subtree: try reader.rest())
        case .manifest:
            return .manifest(header, bytes: try reader.rest())
        case .ack:
            return .ack(header, aggregate: try reader.rest())
        case .gossip:
            return .gossip(header, datagram: try reader.rest())
        case .chunk:
            let index = try reader.integer(UInt32.self, "chunk index")
            let key = Key(digest: try reader.bytes(32, "chunk key"))
            let bytes = reader.buffer.readSlice(length: reader.buffer.readableBytes)!
            return .chunk(header, index: index, key: key, bytes: bytes)
        case .nack:
            let count = Int(try reader.integer(UInt32.self, "entry count"))
            guard count * 5 == reader.buffer.readableBytes else {
                throw .malformed(kind: kind, detail: "\(count) entries do not fill \(reader.buffer.readableBytes) bytes")
            }
            var entries: [NackEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let index = try reader.integer(UInt32.self, "index")
                let codeByte = try reader.integer(UInt8.self, "code")
                guard let code = NackEntry.Code(rawValue: codeByte) else { throw .malformed(kind: kind, detail: "nack code \(codeByte)") }
                entries.append(NackEntry(index: index, code: code))
            }
            return .nack(header, entries)
        case .bye:
            let codeByte = try reader.integer(UInt8.self, "code")
            guard let code = ByeCode(rawValue: codeByte) else { throw .malformed(kind: kind, detail: "bye code \(codeByte)") }
            let reasonBytes = try reader.rest()
            guard reasonBytes.count <= maxReasonBytes, let reason = String(validating: reasonBytes, as: UTF8.self) else {
                throw .malformed(kind: kind, detail: "reason is not UTF-8 of at most \(maxReasonBytes) bytes")
            }
            return .bye(header, code: code, reason: reason)
        }
    }
}

/// Reads fields from a frame body, naming the field that ran short.
private struct BodyReader {
    let kind: PeerFrame.Kind
    var buffer: ByteBuffer

    mutating func integer<T: FixedWidthInteger>(_ type: T.Type, _ field: String) throws(FrameError) -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            throw .malformed(kind: kind, detail: "ends before its \(field)")
        }
        return value
    }

    mutating func bytes(_ count: Int, _ field: String) throws(FrameError) -> [UInt8] {
        guard let bytes = buffer.readBytes(length: count) else {
            throw .malformed(kind: kind, detail: "ends inside its \(field)")
        }
        return bytes
    }

    mutating func shortString(_ field: String) throws(FrameError) -> String {
        let length = Int(try integer(UInt8.self, "\(field) length"))
        let bytes = try self.bytes(length, field)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .malformed(kind: kind, detail: "\(field) is not UTF-8")
        }
        return text
    }

    mutating func rest() throws(FrameError) -> [UInt8] {
        buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}

/// Why bytes on a peer link were refused. Each closes the link with this as the logged reason.
public enum FrameError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownKind(UInt8)
    case oversize(kind: PeerFrame.Kind, length: Int, limit: Int)
    case malformed(kind: PeerFrame.Kind, detail: String)
    /// The stream ended in the middle of a frame.
    case truncated(bufferedBytes: Int)

    /// What is wrong with the stream, in words.
    public var description: String {
        switch self {
        case .unknownKind(let byte):
            "unknown frame kind \(byte); the peer is not speaking Ben's peer protocol"
        case .oversize(let kind, let length, let limit):
            "\(kind) frame of \(length) bytes is over the \(limit)-byte limit"
        case .malformed(let kind, let detail):
            "malformed \(kind) frame: \(detail)"
        case .truncated(let bytes):
            "the stream ended inside a frame (\(bytes) bytes of it buffered)"
        }
    }
}
