import BenCore
import BenProtocol
import BenTestKit
import NIOCore
import Testing

@Suite struct PeerFrameCodecTests {
    static let header = FrameHeader(fleet: FleetName("demo")!, version: 9)
    static let key = Key(hex: String(repeating: "5a", count: 32))!

    static var everyKind: [PeerFrame] {
        var have = ChunkSet(count: 70)
        have.insert(0)
        have.insert(69)
        return [
            .hello(Hello(header: header, purpose: .push, node: "relay-1", announcement: Array(#"{"signed":{}}"#.utf8))),
            .hello(Hello(header: header, purpose: .accept, node: "leaf-2", hasManifest: true, have: have)),
            .plan(header, subtree: Array("{}".utf8)),
            .manifest(header, bytes: Array(#"{"format":"ben/manifest/v1"}"#.utf8)),
            .chunk(header, index: 41, key: key, bytes: ByteBuffer(bytes: [1, 2, 3, 4, 5])),
            .ack(header, aggregate: Array("{}".utf8)),
            .nack(header, [NackEntry(index: 3, code: .want), NackEntry(index: NackEntry.manifestIndex, code: .lacking)]),
            .bye(header, code: .refusedAnnouncement, reason: "signature: forged"),
        ]
    }

    @Test(arguments: everyKind)
    func everyFrameKindRoundTrips(frame: PeerFrame) throws {
        var buffer = PeerFrameCodec.encode(frame)
        let decoded = try PeerFrameCodec.decode(&buffer, limits: .init())
        #expect(decoded == frame)
        #expect(buffer.readableBytes == 0)
    }

    @Test func aFrameSplitAtEveryByteDecodesOnlyWhenWhole() throws {
        let frame = PeerFrame.chunk(Self.header, index: 7, key: Self.key, bytes: ByteBuffer(bytes: Array(repeating: 9, count: 300)))
        let whole = PeerFrameCodec.encode(frame)
        for cut in 0..<whole.readableBytes {
            var partial = whole.getSlice(at: 0, length: cut)!
            #expect(try PeerFrameCodec.decode(&partial, limits: .init()) == nil)
            #expect(partial.readerIndex == 0, "nothing is consumed until the frame is whole")
        }
    }

    @Test func anOversizeFrameIsRefusedFromItsLengthAlone() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(2 << 20))
        buffer.writeInteger(PeerFrame.Kind.bye.rawValue)
        // No body at all: the refusal must not wait for two megabytes that may never come.
        #expect(throws: FrameError.oversize(kind: .bye, length: 2 << 20, limit: 1 << 20)) {
            try PeerFrameCodec.decode(&buffer, limits: .init())
        }
    }

    @Test func chunkFramesAreBoundedByTheFleetsChunkSize() {
        let limits = PeerFrameCodec.Limits(maxChunkBytes: 4096)
        var buffer = PeerFrameCodec.encode(
            .chunk(Self.header, index: 0, key: Self.key, bytes: ByteBuffer(bytes: Array(repeating: 0, count: 8192))))
        #expect(throws: FrameError.self) { try PeerFrameCodec.decode(&buffer, limits: limits) }
    }

    @Test(arguments: [
        ([0, 0, 0, 1, 99] as [UInt8], "unknown frame kind 99"),
        ([0, 0, 0, 3, 7, 0, 0], "malformed BYE frame"),
        ([0, 0, 0, 12, 7, 4, 0x44, 0x45, 0x4D, 0x4F, 0, 0, 0, 0, 0, 0], "is not a fleet name"),
    ])
    func garbageIsRefusedWithAReason(bytes: [UInt8], reason: String) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect {
            try PeerFrameCodec.decode(&buffer, limits: .init())
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SeededGenerator(seed: 77)
        var refused = 0
        for _ in 0..<5000 {
            var buffer = ByteBuffer(bytes: generator.bytes(Int(generator.next() % 64)))
            do {
                while let _ = try PeerFrameCodec.decode(&buffer, limits: .init(maxDocumentFrame: 1 << 16)) {}
            } catch {
                refused += 1
            }
        }
        #expect(refused > 1000, "most random inputs are refused rather than misread")
    }

    @Test func chunkSetBitmapsRoundTripAndRefuseStrayBits() {
        var set = ChunkSet(count: 13)
        for i in [0, 5, 12] { set.insert(i) }
        #expect(ChunkSet(count: 13, bytes: set.bytes) == set)
        #expect(ChunkSet(count: 13, bytes: [0, 0xE0]) == nil, "bits beyond the count")
        #expect(set.cardinality == 3)
    }
}

@Suite struct ChunkPrefixTests {
    /// A writer sends a chunk's prefix and then its payload buffer: together they are exactly the encoded frame.
    @Test func theChunkPrefixAndPayloadAreTheWholeFrame() {
        let header = FrameHeader(fleet: FleetName("demo")!, version: 9)
        let key = Key(digest: [UInt8](repeating: 4, count: 32))
        let payload = ByteBuffer(bytes: (0..<3000).map { UInt8(truncatingIfNeeded: $0) })
        var split = ByteBuffer()
        PeerFrameCodec.encodeChunkPrefix(header, index: 17, key: key, payloadLength: payload.readableBytes, into: &split)
        var rest = payload
        split.writeBuffer(&rest)
        #expect(split == PeerFrameCodec.encode(.chunk(header, index: 17, key: key, bytes: payload)))
    }
}
