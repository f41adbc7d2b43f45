public import BenCore
public import BenCrypto
public import BenPeerLink
public import BenProtocol
import BenMetrics
import Foundation
public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The gossip shell of the agent and the ledger (DESIGN §9): one UDP socket that drives a `GossipMachine`, as
/// swift-cluster-membership's `SWIMNIOShell` drives `SWIM.Instance`. It signs every datagram it sends with the node's
/// key, checks every datagram it receives (`GossipSeal`) before the machine sees it, arms the machine's timers,
/// sends what does not fit a datagram over a one-frame peer link (`PeerFrame.gossip`), and carries the machine's
/// actions out in order. It decides nothing: what a delivered announcement or a relayed ack means is its owner's
/// business, handed over as `Event`s in order on `events`.
///
/// The socket binds `listen` (the node's topology address; its port, over UDP). Datagrams go to the topology's
/// addresses of the members.
public actor GossipShell {
    public struct Configuration: Sendable {
        public var node: NodeID
        public var key: SigningKey
        public var directory: GossipDirectory
        public var role: GossipMachine.Role
        /// Where the UDP socket binds: the node's topology address.
        public var listen: HostPort
        public var settings = GossipMachine.Settings()
        /// Connect timeout and frame bounds of the peer links large messages go over.
        public var peerLink = PeerLinkSettings()
        /// Added to the system clock (tests that model a wrong clock; zero in production).
        public var clockOffset: Duration = .zero
        /// Test-only fault injection: while this file exists, gossip to and from the nodes it lists (one id per
        /// line) is dropped, as if the network between them were cut. Checked every 200 ms.
        public var faultPartitionFile: String?

        public init(node: NodeID, key: SigningKey, directory: GossipDirectory, role: GossipMachine.Role, listen: HostPort) {
            self.node = node
            self.key = key
            self.directory = directory
            self.role = role
            self.listen = listen
        }
    }

    /// What the owner must act on, in the order the machine decided it.
    public enum Event: Sendable {
        /// A document new to this node (for the agent: an announcement to handle as one from NATS).
        case deliver(GossipDocument, from: NodeID)
        /// Publish this signed ack on NATS (a peer's, or this node's own once NATS is back).
        case publishAck(GossipDocument)
        /// This node's own ack reached the ledger through `by`.
        case ackDelivered(Key, by: NodeID)
        case memberChanged(MemberChange)
    }

    /// A moment's picture of this node's gossip, for `benctl members`, logs and metrics.
    public struct Snapshot: Sendable {
        public var node: NodeID
        public var incarnation: Incarnation
        public var localHealth: Int
        public var members: [MemberInfo]
        /// Each peer's last digest and when it came.
        public var heard: [NodeID: GossipMachine.Heard]
        public var view: [NodeID]
        public var sent: Int
        public var received: Int
        public var refused: Int
        public var topologyKey: Key
    }

    public let configuration: Configuration
    public nonisolated let events: AsyncStream<Event>
    let eventSink: AsyncStream<Event>.Continuation
    let logger: Logger
    var machine: GossipMachine
    let tasks = ShellTasks()
    var timers = ShellTimers<GossipMachine.Timer>()
    /// Datagrams waiting for the writer.
    let outgoing: AsyncStream<AddressedEnvelope<ByteBuffer>>
    let outgoingSink: AsyncStream<AddressedEnvelope<ByteBuffer>>.Continuation
    var resolved: [NodeID: SocketAddress] = [:]
    /// Test-only: members cut off from this node (`faultPartitionFile`).
    var partitioned: Set<NodeID> = []
    var sent = 0
    var received = 0
    var refusedCount = 0
    /// When each refusal reason was last logged: a flood of bad datagrams logs one line per reason a minute.
    var refusalLogged: [String: ContinuousClock.Instant] = [:]
    /// The node keys the ledger revoked: datagrams and carried acks signed with one are refused. Read off the actor,
    /// by the reader that checks datagrams.
    nonisolated let revoked = Mutex(RevocationList())

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "gossip"] = "\(configuration.listen)"
        self.logger = logger
        var random = SystemRandomNumberGenerator()
        machine = GossipMachine(
            node: configuration.node, fleet: configuration.directory.fleet, roster: configuration.directory.roster, role: configuration.role,
            seed: random.next(), viewSeed: configuration.directory.viewSeed, settings: configuration.settings,
            now: SystemClock.now() + configuration.clockOffset)
        (events, eventSink) = AsyncStream<Event>.makeStream()
        (outgoing, outgoingSink) = AsyncStream<AddressedEnvelope<ByteBuffer>>.makeStream(bufferingPolicy: .bufferingNewest(4096))
    }

    nonisolated func now() -> Timestamp { SystemClock.now() + configuration.clockOffset }

    // MARK: Running

    typealias DatagramChannel = NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>

    /// Binds the UDP socket on `listen`.
    nonisolated func bind() async throws -> DatagramChannel {
        let listen = configuration.listen
        return try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 1 << 20)
            .bind(host: listen.host, port: listen.port) { channel in
                channel.eventLoop.makeCompletedFuture { try DatagramChannel(wrappingChannelSynchronously: channel) }
            }
    }

    /// Runs on a bound socket until cancelled: the reader, the writer, the machine's timers.
    func run(on channel: DatagramChannel) async throws {
        logger.info(
            "gossip listening",
            metadata: [
                "members": "\(configuration.directory.roster.count)", "view": "\(machine.broadcast.view.count)",
                "topology": "\(configuration.directory.topologyKey.short)",
            ])
        let directory = configuration.directory
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.tasks.run() }
                group.addTask {
                    for await envelope in self.outgoing {
                        // A datagram that cannot be written (no route, a full buffer) is lost, as UDP loses them.
                        try? await outbound.write(envelope)
                    }
                }
                group.addTask {
                    for try await envelope in inbound {
                        // Decoded and checked off the actor: signature checks are the expensive part.
                        let opened = GossipSeal.open(envelope.data, directory: directory, revoked: self.revoked.withLock { $0 })
                        await self.arrived(opened)
                    }
                }
                if let file = configuration.faultPartitionFile {
                    group.addTask { await self.watchPartition(file) }
                }
                self.begin()
                defer { group.cancelAll() }
                try await group.next()
            }
        }
    }

    /// Runs the shell until `stop` ends or the task is cancelled, handing each event to `handle` in order. A socket
    /// that cannot be bound is tried again every 5 s: gossip is a second path, never a reason to stop the agent.
    public nonisolated func serve(until stop: AsyncStream<Void>, handle: @escaping @Sendable (Event) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var bound: DatagramChannel?
                while bound == nil && !Task.isCancelled {
                    do {
                        bound = try await self.bind()
                    } catch {
                        self.logger.error(
                            "cannot bind the gossip socket; trying again in 5 s", metadata: ["listen": "\(self.configuration.listen)", "error": "\(error)"])
                        try? await Task.sleep(for: .seconds(5))
                    }
                }
                guard let bound else { return }
                do {
                    try await self.run(on: bound)
                } catch {
                    self.logger.error("gossip stopped", metadata: ["listen": "\(self.configuration.listen)", "error": "\(error)"])
                }
            }
            group.addTask {
                for await event in self.events { await handle(event) }
            }
            group.addTask {
                for await _ in stop {}
            }
            _ = await group.next()
            group.cancelAll()
        }
    }

    func begin() {
        perform(machine.handle(.start, now: now()))
        countMembers()
    }

    /// `ben_gossip_members{state}`: this process's membership by status, after every change.
    func countMembers() {
        var count: [MemberStatus: Int] = [:]
        for member in machine.members { count[member.status, default: 0] += 1 }
        for status in MemberStatus.allCases { Metric.gossipMembers.set(Double(count[status] ?? 0), ["state": status.rawValue]) }
    }

    // MARK: What the owner tells gossip

    /// The node's version state changed.
    public func update(_ state: GossipMachine.VersionState) {
        guard state != machine.state else { return }
        perform(machine.handle(.versionState(state), now: now()))
    }

    /// Members to probe besides the view (a relay's plan parents and children).
    public func watch(_ nodes: [NodeID]) {
        perform(machine.handle(.watch(nodes), now: now()))
    }

    /// Broadcasts a document this node originates (the ledger's announcements).
    public func broadcast(_ document: GossipDocument) {
        perform(machine.handle(.broadcast(document), now: now()))
    }

    /// A document the node got another way (NATS, a HELLO): kept for grafts and pulls.
    public func learned(_ document: GossipDocument) {
        perform(machine.handle(.learned(document), now: now()))
    }

    /// A gossip message that came over a peer link (`PeerFrame.gossip`): checked like a datagram, with the larger
    /// bound of a peer link.
    public func receivedOverLink(_ bytes: [UInt8]) {
        arrived(
            GossipSeal.open(
                ByteBuffer(bytes: bytes), maxBytes: GossipWire.maxDocumentBytes + 4096, directory: configuration.directory,
                revoked: revoked.withLock { $0 }))
    }

    /// The node keys the ledger revoked, as the owner holds them now: from here on gossip refuses what they sign.
    public nonisolated func distrust(_ list: RevocationList) {
        revoked.withLock { $0 = list }
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            node: configuration.node, incarnation: machine.membership.incarnation, localHealth: machine.membership.localHealth,
            members: machine.members, heard: machine.heard, view: machine.broadcast.view, sent: sent, received: received, refused: refusedCount,
            topologyKey: configuration.directory.topologyKey)
    }

    // MARK: Datagrams in

    func arrived(_ opened: GossipSeal.Opened) {
        switch opened {
        case .unreadable(let reason):
            refusedCount += 1
            noteRefusal("an unreadable datagram: \(reason)", from: nil)
        case .message(let from, let message, let authentication):
            if partitioned.contains(from) { return }
            received += 1
            perform(machine.handle(.received(from: from, message, authentication), now: now()))
        }
    }

    // MARK: Carrying actions out

    func perform(_ actions: [GossipMachine.Action]) {
        for action in actions {
            switch action {
            case .send(let to, let message):
                send(GossipDatagram(fleet: configuration.directory.fleet, sender: configuration.node, message: message), to: to)
            case .sendOverLink(let to, let message):
                sendOverLink(GossipDatagram(fleet: configuration.directory.fleet, sender: configuration.node, message: .broadcast(message)), to: to)
            case .armTimer(let timer, let at):
                let token = timers.arm(timer)
                tasks.run(at: at - configuration.clockOffset) { await self.fire(timer, token: token) }
            case .cancelTimer(let timer):
                timers.cancel(timer)
            case .deliver(let document, let from):
                eventSink.yield(.deliver(document, from: from))
            case .publishAck(let document):
                eventSink.yield(.publishAck(document))
            case .ackDelivered(let id, let by):
                eventSink.yield(.ackDelivered(id, by: by))
            case .memberChanged(let change):
                countMembers()
                eventSink.yield(.memberChanged(change))
            case .refused(let from, let reason):
                refusedCount += 1
                noteRefusal(reason, from: from)
            }
        }
    }

    func fire(_ timer: GossipMachine.Timer, token: UInt64) {
        guard timers.fire(timer, token: token) else { return }
        perform(machine.handle(.timerFired(timer), now: now()))
    }

    func send(_ datagram: GossipDatagram, to member: NodeID) {
        guard !partitioned.contains(member), let address = address(of: member) else { return }
        sent += 1
        outgoingSink.yield(AddressedEnvelope(remoteAddress: address, data: GossipSeal.seal(datagram, key: configuration.key)))
    }

    /// A message whose document does not fit a datagram: one GOSSIP frame on a peer link of its own to the member's
    /// peer-link port, then the link closes.
    func sendOverLink(_ datagram: GossipDatagram, to member: NodeID) {
        guard !partitioned.contains(member), let address = configuration.directory.addresses[member] else { return }
        sent += 1
        let bytes = Array(GossipSeal.seal(datagram, key: configuration.key).readableBytesView)
        let frame = PeerFrame.gossip(FrameHeader(fleet: configuration.directory.fleet, version: .none), datagram: bytes)
        let settings = configuration.peerLink
        let logger = logger
        tasks.spawn {
            do {
                let (channel, _) = try await PeerLink.connect(host: address.host, port: address.port, target: member, settings: settings, logger: logger)
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(frame)
                    outbound.finish()
                    // The receiver closes once it has read the frame.
                    for try await _ in inbound {}
                }
            } catch {
                logger.notice(
                    "cannot send a gossip message over a peer link", metadata: ["peer.node": "\(member)", "reason": "\(PeerLink.describe(error))"])
            }
        }
    }

    func address(of member: NodeID) -> SocketAddress? {
        if let known = resolved[member] { return known }
        guard let hostPort = configuration.directory.addresses[member] else { return nil }
        do {
            let address = try SocketAddress.makeAddressResolvingHost(hostPort.host, port: hostPort.port)
            resolved[member] = address
            return address
        } catch {
            noteRefusal("cannot resolve \(hostPort): \(error)", from: member)
            return nil
        }
    }

    func noteRefusal(_ reason: String, from member: NodeID?) {
        let now = ContinuousClock.now
        if let last = refusalLogged[reason], now - last < .seconds(60) { return }
        refusalLogged[reason] = now
        var metadata: Logger.Metadata = ["reason": "\(reason)"]
        if let member { metadata["peer.node"] = "\(member)" }
        logger.warning("gossip refused a datagram", metadata: metadata)
    }

    // MARK: Fault injection (tests only)

    func watchPartition(_ file: String) async {
        while !Task.isCancelled {
            let listed = Self.readPartition(file)
            if listed != partitioned {
                partitioned = listed
                logger.warning(
                    listed.isEmpty ? "fault injection: gossip partition healed" : "fault injection: gossip partitioned",
                    metadata: ["nodes": "\(listed.sorted().map(\.rawValue).joined(separator: ","))"])
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    nonisolated static func readPartition(_ file: String) -> Set<NodeID> {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [] }
        return Set(text.split(whereSeparator: \.isNewline).compactMap { NodeID(String($0).trimmingCharacters(in: .whitespaces)) })
    }
}
