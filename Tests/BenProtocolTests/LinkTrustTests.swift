import BenCore
import BenCrypto
import BenProtocol
import Testing

/// The link handshake (`LinkHandshake`), who a proven key belongs to (`LinkAuthorization`) and whom a node takes
/// as a parent (`PlanAuthority`): pure, so every path is driven here message by message.
@Suite struct LinkTrustTests {
    static let fleet = FleetName("demo")!

    struct Crypto: LinkHandshakeCrypto {
        let key: SigningKey
        func digest(_ bytes: [UInt8]) -> [UInt8] { BLAKE2b.key(of: bytes).bytes }
        func sign(_ message: [UInt8]) -> [UInt8] { key.sign(message, context: .link) }
        func verify(_ signature: [UInt8], by key: [UInt8], over message: [UInt8]) -> Bool {
            PublicKey(bytes: key)?.isValidSignature(signature, over: message, context: .link) ?? false
        }
    }

    static func side(_ node: NodeID, _ key: SigningKey, role: LinkHandshake.Role, encrypt: Bool = true, suites: [UInt8] = [1, 2])
        -> LinkHandshake
    {
        LinkHandshake(
            identity: .init(fleet: fleet, node: node, key: key.publicKey.bytes, credential: [], encrypt: encrypt, suites: suites), role: role,
            ephemeral: SecureRandom.bytes(32), crypto: Crypto(key: key))
    }

    /// Runs both machines against each other, answering every check with `decide`, until neither has more to
    /// say; `tamper` may alter each message on its way.
    static func run(
        client: inout LinkHandshake, server: inout LinkHandshake, decide: (LinkHandshake.Claim, Bool) -> String? = { _, _ in nil },
        tamper: ([UInt8]) -> [UInt8] = { $0 }
    ) -> (client: [LinkHandshake.Action], server: [LinkHandshake.Action]) {
        var clientLog: [LinkHandshake.Action] = []
        var serverLog: [LinkHandshake.Action] = []
        var toServer: [[UInt8]] = []
        var toClient: [[UInt8]] = []
        func absorb(_ actions: [LinkHandshake.Action], clientSide: Bool, machine: inout LinkHandshake) {
            var queue = actions
            while !queue.isEmpty {
                let action = queue.removeFirst()
                if clientSide { clientLog.append(action) } else { serverLog.append(action) }
                switch action {
                case .send(let bytes):
                    if clientSide { toServer.append(tamper(bytes)) } else { toClient.append(tamper(bytes)) }
                case .checkPeer(let claim):
                    queue += machine.handle(.decided(refusal: decide(claim, clientSide)))
                default: break
                }
            }
        }
        absorb(client.handle(.start), clientSide: true, machine: &client)
        while !toServer.isEmpty || !toClient.isEmpty {
            if !toServer.isEmpty { absorb(server.handle(.received(toServer.removeFirst())), clientSide: false, machine: &server) }
            if !toClient.isEmpty { absorb(client.handle(.received(toClient.removeFirst())), clientSide: true, machine: &client) }
        }
        return (clientLog, serverLog)
    }

    static func session(_ log: [LinkHandshake.Action]) -> LinkHandshake.Session? {
        for case .established(let s) in log { return s }
        return nil
    }

    static func failure(_ log: [LinkHandshake.Action]) -> String? {
        for case .fail(let reason) in log { return reason }
        return nil
    }

    @Test func bothSidesProveTheirKeysAndAgreeOnTheTranscriptAndSuite() throws {
        let (a, b) = (SigningKey.generate(), SigningKey.generate())
        var client = Self.side("n1", a, role: .client(target: "n2"))
        var server = Self.side("n2", b, role: .server, suites: [2, 1])
        var checked: [(NodeID, [UInt8])] = []
        let logs = Self.run(client: &client, server: &server) { claim, _ in
            checked.append((claim.node, claim.key))
            return nil
        }
        let c = try #require(Self.session(logs.client), "client: \(logs.client)")
        let s = try #require(Self.session(logs.server), "server: \(logs.server)")
        #expect(c.peer.node == "n2" && c.peer.key == b.publicKey.bytes)
        #expect(s.peer.node == "n1" && s.peer.key == a.publicKey.bytes)
        #expect(c.transcript == s.transcript, "both sides bind their keys to the same transcript")
        #expect(c.suite == 2 && s.suite == 2, "the server picks its first suite the client offers")
        #expect(checked.map(\.0) == ["n2", "n1"], "the client checks the server before it signs, then the server checks it")
    }

    @Test func recordsArePlainOnlyWhenNeitherSideWantsEncryption() throws {
        for (clientWants, serverWants, expected) in [(false, false, UInt8(0)), (true, false, 1), (false, true, 1)] {
            var client = Self.side("n1", .generate(), role: .client(target: "n2"), encrypt: clientWants)
            var server = Self.side("n2", .generate(), role: .server, encrypt: serverWants)
            let logs = Self.run(client: &client, server: &server)
            #expect(Self.session(logs.client)?.suite == expected, "client \(clientWants), server \(serverWants)")
        }
    }

    @Test func aServerThatIsNotTheDialledNodeIsRefused() {
        var client = Self.side("n1", .generate(), role: .client(target: "n7"))
        var server = Self.side("n2", .generate(), role: .server)
        let logs = Self.run(client: &client, server: &server)
        #expect(Self.failure(logs.server)?.contains("this is n2, not n7") == true)
        #expect(Self.failure(logs.client)?.contains("refused this link") == true, "the client hears why: \(logs.client)")
        #expect(Self.session(logs.client) == nil && Self.session(logs.server) == nil)
    }

    @Test func aRefusedClaimEndsTheHandshakeOnBothSides() {
        var client = Self.side("n1", .generate(), role: .client(target: "n2"))
        var server = Self.side("n2", .generate(), role: .server)
        let logs = Self.run(client: &client, server: &server) { claim, clientSide in
            clientSide ? nil : "\(claim.node) presented no ledger-signed assignment for its key"
        }
        #expect(Self.failure(logs.client)?.contains("no ledger-signed assignment") == true)
        #expect(Self.session(logs.client) == nil && Self.session(logs.server) == nil)
    }

    @Test func aTamperedHandshakeFailsItsSignatureCheck() {
        var client = Self.side("n1", .generate(), role: .client(target: "n2"))
        var server = Self.side("n2", .generate(), role: .server)
        // Flip the last byte of the ServerHello (its signature), as a man in the middle swapping keys would have to.
        let logs = Self.run(client: &client, server: &server, decide: { _, _ in nil }) { bytes in
            guard bytes.first == 2 else { return bytes }
            var altered = bytes
            altered[altered.count - 1] ^= 1
            return altered
        }
        #expect(Self.failure(logs.client)?.contains("does not verify") == true)
        #expect(Self.session(logs.client) == nil)
    }

    @Test func garbageInsteadOfAHelloIsRefusedOnItsFirstBytes() {
        var server = Self.side("n2", .generate(), role: .server)
        let actions = server.handle(.received(Array("GET / HTTP/1.1\r\n".utf8)))
        #expect(Self.failure(actions)?.contains("not a Ben link handshake") == true)
    }

    // MARK: Who a key belongs to

    static let ledger = SigningKey.generate()
    static let trust = LinkAuthorization.Trust(fleet: fleet, ledgerKeys: [ledger.publicKey.bytes])

    static func assignment(_ node: NodeID, key: [UInt8], parents: [NodeID], backups: [NodeID] = [], version: Version = 4) -> Assignment {
        Assignment(
            fleet: fleet, version: version, epoch: 1, plan: BLAKE2b.key(of: [1]), node: node, key: key, parents: parents, backups: backups)
    }

    @Test func onlyATrustedLedgerKeyIsTheLedger() {
        let impostor = SigningKey.generate()
        let claim = { (key: SigningKey) in LinkHandshake.Claim(node: .ledger, key: key.publicKey.bytes, credential: []) }
        #expect(LinkAuthorization.decide(claim(Self.ledger), credential: nil, expected: nil, trust: Self.trust) == .success(.ledger))
        guard case .failure(let refusal) = LinkAuthorization.decide(claim(impostor), credential: nil, expected: nil, trust: Self.trust) else {
            Issue.record("an impostor ledger was accepted")
            return
        }
        #expect(refusal.description.contains("does not hold a trusted ledger key"))
    }

    @Test func aNodesKeyIsBoundByItsSignedAssignmentOrByTheTopology() {
        let key = SigningKey.generate().publicKey.bytes
        let other = SigningKey.generate().publicKey.bytes
        let claim = LinkHandshake.Claim(node: "n3", key: key, credential: [])
        let own = Self.assignment("n3", key: key, parents: ["n1"])
        #expect(LinkAuthorization.decide(claim, credential: own, expected: nil, trust: Self.trust) == .success(.node("n3", assigned: 4)))
        #expect(LinkAuthorization.decide(claim, credential: nil, expected: own, trust: Self.trust) == .success(.node("n3", assigned: 4)))
        let stolen = Self.assignment("n3", key: other, parents: ["n1"])
        #expect(throws: LinkAuthorization.Refusal.self) { try LinkAuthorization.decide(claim, credential: stolen, expected: nil, trust: Self.trust).get() }
        #expect(throws: LinkAuthorization.Refusal.self) { try LinkAuthorization.decide(claim, credential: nil, expected: nil, trust: Self.trust).get() }
        var ledgerSide = Self.trust
        ledgerSide.knownKeys = ["n3": key]
        #expect(LinkAuthorization.decide(claim, credential: nil, expected: nil, trust: ledgerSide) == .success(.node("n3", assigned: nil)))
        // Known from the topology (the ledger, or an agent whose gossip has it) and assigned: still a member of v4.
        #expect(LinkAuthorization.decide(claim, credential: own, expected: nil, trust: ledgerSide) == .success(.node("n3", assigned: 4)))
        #expect(LinkAuthorization.decide(claim, credential: stolen, expected: nil, trust: ledgerSide) == .success(.node("n3", assigned: nil)))
        ledgerSide.knownKeys = ["n3": other]
        #expect(throws: LinkAuthorization.Refusal.self) { try LinkAuthorization.decide(claim, credential: own, expected: nil, trust: ledgerSide).get() }
    }

    // MARK: Whom a node takes as a parent

    @Test func aParentMustBeNamedByTheNodesOwnAssignment() {
        let mine = Self.assignment("n4", key: [], parents: ["n1", "n2"], backups: ["n9"])
        #expect((try? PlanAuthority.mayFeed("n1", me: "n4", assignment: mine, via: []).get()) != nil)
        #expect((try? PlanAuthority.mayFeed("n9", me: "n4", assignment: mine, via: []).get()) != nil, "a backup may feed")
        #expect((try? PlanAuthority.mayFeed(.ledger, me: "n4", assignment: mine, via: []).get()) != nil, "the ledger always may")
        #expect((try? PlanAuthority.mayFeed("n5", me: "n4", assignment: mine, via: []).get()) == nil, "a stranger may not")
        let someoneElses = Self.assignment("n6", key: [], parents: ["n5"])
        #expect((try? PlanAuthority.mayFeed("n5", me: "n4", assignment: someoneElses, via: []).get()) == nil, "not my assignment")
    }

    @Test func anAdopterShowsTheChainFromTheNodesParentToItself() {
        // n4's parent n2 refused; n2's parent n1 adopts n4 and sends n2's assignment along.
        let mine = Self.assignment("n4", key: [], parents: ["n2"])
        let n2 = Self.assignment("n2", key: [], parents: ["n1"])
        #expect((try? PlanAuthority.mayFeed("n1", me: "n4", assignment: mine, via: [n2]).get()) != nil)
        #expect((try? PlanAuthority.mayFeed("n7", me: "n4", assignment: mine, via: [n2]).get()) == nil, "the chain must end at the sender")
        let unrelated = Self.assignment("n3", key: [], parents: ["n7"])
        #expect((try? PlanAuthority.mayFeed("n7", me: "n4", assignment: mine, via: [unrelated]).get()) == nil, "the chain must start at my parent")
        let older = Self.assignment("n2", key: [], parents: ["n1"], version: 3)
        #expect((try? PlanAuthority.mayFeed("n1", me: "n4", assignment: mine, via: [older]).get()) == nil, "the chain is of one version")
    }

    /// What a relay sends when it adopts its dead child's children (`Subtree.adopted(at:)`): the grandchild can
    /// follow the chain from its own planned parent to the adopter, also when the dead child was itself adopted.
    @Test func anAdoptedGrandchildCanCheckTheChainItIsSent() throws {
        let ledger = SigningKey.generate()
        func node(_ id: NodeID, parents: [NodeID]) -> PlanNode {
            PlanNode(
                id: id, address: HostPort("127.0.0.1:1")!,
                assignment: ledger.envelope(Self.assignment(id, key: SigningKey.generate().publicKey.bytes, parents: parents), context: .plan))
        }
        func accepts(_ part: Subtree, from sender: NodeID) throws -> Bool {
            let own: Assignment = try part.root.assignment!.document()
            let via: [Assignment] = try part.via.map { try $0.document() }
            return (try? PlanAuthority.mayFeed(sender, me: part.root.id, assignment: own, via: via).get()) != nil
        }
        // n1 feeds n2 (planned), which feeds n4, which feeds n5.
        let fromN1 = Subtree(
            fleet: Self.fleet, version: 4, plan: BLAKE2b.key(of: [1]), stripe: 0, stripeCount: 1, depth: 1,
            nodes: [node("n2", parents: ["n1"]), node("n4", parents: ["n2"]), node("n5", parents: ["n4"])], parents: [-1, 0, 1],
            backups: [[], [], []])
        #expect(try accepts(fromN1.adopted(at: 1), from: "n1"), "n2 died: n1 adopts n4 and shows n2's assignment")
        #expect(try !accepts(fromN1.subtree(at: 1), from: "n1"), "without the chain n4 cannot tell n1 may feed it")
        #expect(try !accepts(fromN1.adopted(at: 1), from: "n9"), "the chain proves n1, nobody else")
        // n2's planned parent was n0; n0 died and n1 adopted n2 (its subtree carries n0's assignment); now n2 dies.
        var adoptedN2 = fromN1
        adoptedN2.nodes[0] = node("n2", parents: ["n0"])
        adoptedN2.via = [node("n0", parents: ["n1"]).assignment!]
        let part = adoptedN2.adopted(at: 1)
        #expect(part.via.count == 2)
        #expect(try accepts(part, from: "n1"), "n4 follows n2, then n0, to n1")
        #expect(try part.children(of: 0).allSatisfy { try accepts(part.subtree(at: $0), from: "n4") }, "n4 feeds its own children as planned")
    }
}
