import BenCore
import Testing

@Suite struct DocumentTests {
    static let key = Key(hex: String(repeating: "ab", count: 32))!

    static var ack: Ack {
        Ack(
            fleet: FleetName("demo")!, version: 7, node: "proxy-1", manifest: key, status: .active, reason: "",
            at: Timestamp(millisecondsSinceEpoch: 1_795_000_000_000))
    }

    @Test func ackRoundTripsThroughItsCanonicalBytes() throws {
        let decoded = try Ack.decode(Self.ack.canonicalBytes)
        #expect(decoded == Self.ack)
        #expect(
            Self.ack.canonicalString
                == #"{"at":"2026-11-18T11:06:40.000Z","fleet":"demo","manifest":"\#(Self.key.hex)","node":"proxy-1","reason":"","status":"active","version":7}"#
        )
    }

    @Test func oversizeInputIsRefusedBeforeParsing() {
        // Not even valid JSON: if it were parsed first, the error would be a syntax error.
        let bytes = [UInt8](repeating: UInt8(ascii: "{"), count: Ack.maxBytes + 1)
        #expect {
            try Ack.decode(bytes)
        } throws: { error in
            (error as? DocumentError)?.code == .tooLarge
        }
    }

    @Test(arguments: [
        (#"{"fleet":"demo","version":"7"}"#, "version", DocumentError.Code.wrongType),
        (#"{"fleet":"Demo!"}"#, "fleet", .invalidValue),
        (#"{"fleet":"demo","version":0}"#, "version", .invalidValue),
        (#"{"fleet":"demo","version":3,"node":"n1","manifest":"ABC"}"#, "manifest", .invalidValue),
        (#"{"fleet":"demo","version":3,"node":"n1","manifest":"\#(key.hex)","status":"maybe"}"#, "status", .invalidValue),
        (#"{"fleet":"demo","version":3,"node":"n1","manifest":"\#(key.hex)","status":"refused","reason":"","at":"2026-01-01T00:00:00Z"}"#, "reason", .invalidValue),
        (#"{"fleet":"demo","extra":1}"#, "extra", .unknownField),
        (#"{"fleet":"demo","version":3}"#, "node", .missingField),
    ])
    func ackDecodingNamesTheWrongField(json: String, field: String, code: DocumentError.Code) {
        #expect {
            try Ack.decode(Array(json.utf8))
        } throws: { error in
            guard let error = error as? DocumentError else { return false }
            return error.field == field && error.code == code && error.description.contains(field)
        }
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        let text = "{\n  \"fleet\": \"demo\",\n  \"version\": 7,,\n}"
        #expect {
            try JSONParser.parse(text)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.line == 3 && error.column == 16
        }
    }

    @Test func duplicateMemberNamesAreRefused() {
        #expect {
            try JSONParser.parse(#"{"a":1,"a":2}"#)
        } throws: { error in
            (error as? JSONParseError)?.problem == .duplicateName("a")
        }
    }

    @Test func manifestRefusesAChunkCountThatDoesNotMatchItsSize() throws {
        let artifact = Manifest.Artifact(
            name: "policy/edge", kind: .policyPack, roles: [.proxy], size: 5000, chunkSize: 4096, key: Self.key,
            chunks: [Self.key])
        let manifest = Manifest(artifacts: [artifact])
        #expect {
            try Manifest.decode(manifest.canonicalBytes)
        } throws: { error in
            (error as? DocumentError)?.field == "artifacts[0].chunks"
        }
    }

    @Test func manifestListsEveryChunkOnce() throws {
        let other = Key(hex: String(repeating: "cd", count: 32))!
        let manifest = Manifest(artifacts: [
            .init(name: "b", kind: .schema, roles: [.spine, .proxy], size: 8192, chunkSize: 4096, key: other, chunks: [Self.key, other]),
            .init(name: "a", kind: .ruleSet, roles: [.detector], size: 10, chunkSize: 4096, key: Self.key, chunks: [Self.key]),
        ])
        #expect(manifest.artifacts.map(\.name) == ["a", "b"])
        #expect(manifest.chunkKeys == [Self.key, other])
        #expect(try Manifest.decode(manifest.canonicalBytes) == manifest)
    }

    @Test func announcementRefusesADeadlineAfterItsExpiry() throws {
        let now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        var announcement = Announcement(
            fleet: FleetName("demo")!, version: 3, manifest: Self.key, manifestSize: 100, plan: Self.key,
            topology: Self.key, issuedAt: now, deadline: now + .seconds(60), expires: now + .seconds(3600),
            ledger: "127.0.0.1:7400")
        #expect(try Announcement.decode(announcement.canonicalBytes) == announcement)
        announcement.expires = now + .seconds(30)
        #expect(throws: DocumentError.self) { try Announcement.decode(announcement.canonicalBytes) }
    }

    @Test func announcementCarriesItsLeaseEpochAndRefusesToBeReadWithoutOne() throws {
        let now = Timestamp(millisecondsSinceEpoch: 1_795_000_000_000)
        let announcement = Announcement(
            fleet: FleetName("demo")!, version: 3, manifest: Self.key, manifestSize: 100, plan: Self.key,
            topology: Self.key, issuedAt: now, deadline: now + .seconds(60), expires: now + .seconds(3600),
            ledger: "127.0.0.1:7400", epoch: 42)
        #expect(try Announcement.decode(announcement.canonicalBytes).epoch == 42)
        #expect(announcement.canonicalString.contains("\"epoch\":42"))
        guard case .object(var fields) = announcement.json else { Issue.record("not an object"); return }
        fields["epoch"] = nil
        let error = #expect(throws: DocumentError.self) { try Announcement.decode(try CanonicalJSON.encode(.object(fields))) }
        #expect(error?.description.contains("epoch") == true, "\(String(describing: error))")
        fields["epoch"] = .int(-1)
        #expect(throws: DocumentError.self) { try Announcement.decode(try CanonicalJSON.encode(.object(fields))) }
    }

    @Test func aggregateCarriesMissingNodesWithReasonCodes() throws {
        let aggregate = Aggregate(
            fleet: FleetName("demo")!, version: 3, relay: "relay-1", acks: [],
            missing: [.init(node: "leaf-9", reason: MissingReason(.unreachable, "connection refused"))])
        let decoded = try Aggregate.decode(aggregate.canonicalBytes)
        #expect(decoded.missing.first?.reason.code == .unreachable)
        #expect(decoded.missing.first?.reason.detail == "connection refused")
    }

    @Test func timestampsRoundTripThroughRFC3339() {
        for ms: Int64 in [0, 1, 999, 951_782_400_000, 1_795_000_000_123, -86_400_001] {
            let t = Timestamp(millisecondsSinceEpoch: ms)
            #expect(Timestamp(rfc3339: t.rfc3339) == t)
        }
        #expect(Timestamp(rfc3339: "2000-02-29T00:00:00Z")?.millisecondsSinceEpoch == 951_782_400_000)
        #expect(Timestamp(rfc3339: "2026-11-27T03:31:13.5+01:00")?.rfc3339 == "2026-11-27T02:31:13.500Z")
        #expect(Timestamp(rfc3339: "2026-13-01T00:00:00Z") == nil)
    }

    @Test func base64IsStrictAboutItsOneSpelling() {
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode("Zm8=") == Array("fo".utf8))
        #expect(Base64.decode("Zm9=") == nil)  // non-zero bits under the padding
        #expect(Base64.decode("Zm8") == nil)
    }

    @Test func hostPortAcceptsNamesAndIPv6AndRefusesJunk() {
        #expect(HostPort("127.0.0.1:7401")?.port == 7401)
        #expect(HostPort("[::1]:7401")?.host == "::1")
        #expect(HostPort("node-7.rack-3.example:80")?.description == "node-7.rack-3.example:80")
        #expect(HostPort("127.0.0.1") == nil)
        #expect(HostPort("127.0.0.1:0") == nil)
        #expect(HostPort("bad host:80") == nil)
    }
}

@Suite struct PlanTests {
    static func plan() -> Plan {
        // Stripe 0: ledger → a → (b, c), c → d. Stripe 1: ledger → d → (a, b, c).
        let nodes = ["a", "b", "c", "d"].enumerated().map {
            PlanNode(id: NodeID($0.element)!, address: HostPort("127.0.0.1:\(7401 + $0.offset)")!)
        }
        return Plan(
            fleet: FleetName("demo")!, version: 2, topology: DocumentTests.key, nodes: nodes,
            stripes: [[-1, 0, 0, 2], [3, 3, 3, -1]], backups: [[3], [2], [1], [0]])
    }

    @Test func validPlanRoundTrips() throws {
        let plan = Self.plan()
        #expect(plan.validate() == nil)
        #expect(try Plan.decode(plan.canonicalBytes) == plan)
        #expect(plan.depths(stripe: 0) == [1, 2, 2, 3])
    }

    @Test func cycleIsRefused() {
        var plan = Self.plan()
        plan.stripes[0] = [3, 0, 0, 2]
        #expect(plan.validate() == .cycle(stripe: 0))
    }

    @Test func subtreesCutAndReCutConsistently() throws {
        let plan = Self.plan()
        let children = plan.children(stripe: 0)
        let subtree = plan.subtree(of: 0, stripe: 0, planKey: DocumentTests.key, children: children, depth: 1)
        #expect(subtree.nodes.map(\.id.rawValue) == ["a", "b", "c", "d"])
        #expect(subtree.parents == [-1, 0, 0, 2])
        #expect(subtree.height == 2)
        let forC = subtree.subtree(at: 2)
        #expect(forC.nodes.map(\.id.rawValue) == ["c", "d"])
        #expect(forC.depth == 2)
        #expect(forC.backups[1].map(\.id.rawValue) == ["a"])
        #expect(try Subtree.decode(forC.canonicalBytes) == forC)
    }
}
