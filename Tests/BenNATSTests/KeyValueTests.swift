import BenCore
import BenNATS
import BenTestKit
import Testing

/// The key-value API the ledger's lease stands on (libnats's kvStore): create-if-absent and compare-and-set
/// succeed for exactly one writer, a lost race is `.wrongRevision`, and the bucket's TTL lets a value lapse.
@Suite struct KeyValueTests {
    @Test func createAndCompareAndSetSucceedForOneWriterOnly() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        #expect(try await js.keyValue(bucket: "ben_kv_test") == nil, "binding a bucket that does not exist creates nothing")
        var config = KeyValueConfig(bucket: "ben_kv_test")
        config.description = "test"
        let kv = try await js.keyValue(config)
        #expect(try await kv.get("leader") == nil)

        let first = try await kv.create("leader", value: Array("a".utf8))
        let lost = await #expect(throws: NATSError.self) { try await kv.create("leader", value: Array("b".utf8)) }
        #expect(lost?.code == .wrongRevision, "\(String(describing: lost))")
        let entry = try #require(try await kv.get("leader"))
        #expect(entry.value == Array("a".utf8) && entry.revision == first && entry.key == "leader")
        #expect(entry.createdNanoseconds > 1_700_000_000 * 1_000_000_000, "the server's time of the write")

        let second = try await kv.update("leader", value: Array("a2".utf8), lastRevision: first)
        #expect(second > first)
        let stale = await #expect(throws: NATSError.self) { try await kv.update("leader", value: Array("c".utf8), lastRevision: first) }
        #expect(stale?.code == .wrongRevision)
        #expect(stale?.description.contains("update leader in key-value bucket ben_kv_test at revision \(first)") == true, "\(String(describing: stale))")
        #expect(try await kv.get("leader")?.value == Array("a2".utf8), "the loser wrote nothing")

        // Bound again: the same bucket and value; deleting lets create succeed again.
        let bound = try #require(try await js.keyValue(bucket: "ben_kv_test"))
        #expect(try await bound.get("leader")?.revision == second)
        try await bound.delete("leader")
        #expect(try await kv.get("leader") == nil)
        #expect(try await kv.create("leader", value: Array("d".utf8)) > second)
    }

    @Test func aValueLapsesAfterTheBucketsTTLAndCanBeCreatedAgain() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        var config = KeyValueConfig(bucket: "ben_kv_ttl")
        config.ttl = .seconds(1)
        let kv = try await js.keyValue(config)
        let first = try await kv.create("leader", value: Array("a".utf8))
        // Polled: JetStream ages a value out without writing a delete marker, so a watch sees no event.
        try await within("the value lapses", limit: .seconds(20)) {
            while try await kv.get("leader") != nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let updateAfterLapse = await #expect(throws: NATSError.self) { try await kv.update("leader", value: [1], lastRevision: first) }
        #expect(updateAfterLapse?.code == .wrongRevision, "a holder cannot renew a lapsed value")
        #expect(try await kv.create("leader", value: Array("b".utf8)) > first)

        // Opening it again with another TTL changes the bucket's; its stream keeps one replica on one server.
        config.ttl = .seconds(30)
        _ = try await js.keyValue(config)
        let info = try #require(try await js.streamInfo("KV_ben_kv_ttl"))
        #expect(info.config.maxAge == .seconds(30))
        #expect(info.config.replicas == 1)
    }

    @Test func aWatchDeliversEveryStoredWriteInOrderWithTheCurrentValueFirst() async throws {
        let server = try await NATSServer.start()
        let js = try await connect(server.url).jetStream()
        let kv = try await js.keyValue(KeyValueConfig(bucket: "ben_kv_watch"))
        let first = try await kv.create("leader", value: Array("a".utf8))
        let writes = try await kv.watch("leader")
        var revisions = [first]
        for i in 0..<20 { revisions.append(try await kv.update("leader", value: Array("v\(i)".utf8), lastRevision: revisions.last!)) }
        _ = await #expect(throws: NATSError.self) { try await kv.update("leader", value: [0], lastRevision: first) }
        try await kv.delete("leader")
        let seen = try await within("22 entries") {
            var seen: [KeyValueEntry] = []
            for await entry in writes {
                seen.append(entry)
                if seen.count == 22 { break }
            }
            return seen
        }
        #expect(seen.prefix(21).map(\.revision) == revisions, "every stored write, none of the refused one, in order")
        #expect(seen.first?.value == Array("a".utf8))
        #expect(seen[20].value == Array("v19".utf8))
        #expect(seen.last?.isDeleted == true && seen.prefix(21).allSatisfy { !$0.isDeleted })
    }
}
