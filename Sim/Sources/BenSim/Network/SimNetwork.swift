public import BenProtocol
import HeapModule

/// What a simulated network needs from the shell that runs on it: the link model and the faults. The protocol
/// engine prices links by the topology's tiers and runs a seeded gremlin; the test kit's fleet harness uses one
/// fixed latency and a fixed time per chunk.
public protocol SimNetworkModel: AnyObject {
    /// One-way latency between two endpoints, in nanoseconds, and the tier index the link crosses.
    func latency(_ a: Int, _ b: Int) -> (tier: Int, ns: Int64)
    /// Bytes a frame takes on the sender's uplink.
    func wireBytes(_ frame: OutboundFrame) -> Int64
    /// A frame is put on the wire, leaving at `finish` (counters go here); returns whether the sender tampers with
    /// it (a tampering relay's chunk or manifest).
    func onWire(_ frame: OutboundFrame, from: SimSide, to: SimSide, tier: Int, finish: Int64) -> Bool
    /// Whether the gremlin resets this link as the frame leaves at `finish` (a partition, a random drop).
    func gremlinResets(from: Int, to: Int, at finish: Int64) -> Bool
    /// Extra delay the gremlin adds to this frame (0 for none).
    func gremlinDelay() -> Int64
    /// Whether `target` cannot be reached from `endpoint` now, and how the connect fails if so.
    func refusal(from endpoint: Int, to target: Int, at now: Int64) -> String?
}

/// One end of a simulated link.
public struct SimSide: Hashable, Sendable {
    public var endpoint: Int
    public var link: LinkID
    /// For links a machine opened: the version it opened them for.
    public var generation: UInt64

    public init(endpoint: Int, link: LinkID, generation: UInt64) {
        self.endpoint = endpoint
        self.link = link
        self.generation = generation
    }
}

/// The one simulated network and event queue both of the simulator's shells run on (issue 14): the protocol
/// engine (`ben-sim`) and BenTestKit's fleet harness. Endpoints are numbers; each has one upload FIFO at its
/// uplink (frames leave one after another over all its links), every frame then takes its link's latency, and
/// each link delivers in order, like TCP. A close is a FIN: the other end sees the link end after everything
/// sent before it. Events are ordered by (time, sequence), so a run is deterministic.
public final class SimNetwork<Host> {
    /// What the network delivers to endpoints.
    public enum Delivery {
        case connected(SimSide)
        case failed(SimSide, String)
        case frame(to: SimSide, OutboundFrame, tampered: Bool)
        case sent(SimSide, index: Int)
    }

    /// An event on the queue: the network's own, or the shell's.
    public enum Payload {
        case delivery(Delivery)
        case host(Host)
    }

    struct Connection {
        var a: SimSide
        var b: SimSide
        var lastDelivery: [Int64] = [0, 0]
        var reset = false
        var closedBy: [Bool] = [false, false]
        var acceptedByB = false

        func index(of side: SimSide) -> Int { side == a ? 0 : 1 }
    }

    struct Event: Comparable {
        var time: Int64
        var seq: UInt64
        var payload: Payload

        static func < (a: Event, b: Event) -> Bool { (a.time, a.seq) < (b.time, b.seq) }
        static func == (a: Event, b: Event) -> Bool { a.seq == b.seq }
    }

    public weak var model: (any SimNetworkModel)?
    /// Each endpoint's uplink, bytes per second.
    public let uplink: [Double]
    public private(set) var now: Int64 = 0
    var heap = Heap<Event>()
    var sequence: UInt64 = 0
    var connections: [Int: Connection] = [:]
    var connectionOf: [SimSide: Int] = [:]
    var nextConnection = 1
    var nextInbound: UInt64 = 1
    var uplinkFree: [Int64]

    public init(uplink: [Double]) {
        self.uplink = uplink
        uplinkFree = [Int64](repeating: 0, count: uplink.count)
    }

    // MARK: The queue

    public func schedule(_ host: Host, at time: Int64) { enqueue(.host(host), at: time) }

    func schedule(_ delivery: Delivery, at time: Int64) { enqueue(.delivery(delivery), at: time) }

    private func enqueue(_ payload: Payload, at time: Int64) {
        sequence += 1
        heap.insert(Event(time: time, seq: sequence, payload: payload))
    }

    /// A number no other event or token has: timer tokens share the queue's sequence.
    public func nextToken() -> UInt64 {
        sequence += 1
        return sequence
    }

    /// The next event at or before `end`, with the clock moved to it; nil when the queue is empty or the next is
    /// later.
    public func next(until end: Int64) -> Payload? {
        guard let event = heap.min, event.time <= end else { return nil }
        _ = heap.popMin()
        now = max(now, event.time)
        return event.payload
    }

    // MARK: Links

    /// Opens a link from `side` to `target` (or fails it, if the model says the target cannot be reached).
    public func connect(_ side: SimSide, to target: Int) {
        guard let model else { return }
        let latency = model.latency(side.endpoint, target).ns
        if let refusal = model.refusal(from: side.endpoint, to: target, at: now) {
            schedule(.failed(side, refusal), at: now + 2 * latency)
            return
        }
        let remote = SimSide(endpoint: target, link: LinkID(inbound: nextInbound), generation: 0)
        nextInbound += 1
        let id = nextConnection
        nextConnection += 1
        connections[id] = Connection(a: side, b: remote)
        connectionOf[side] = id
        connectionOf[remote] = id
        schedule(.connected(side), at: now + 2 * latency)
    }

    /// Fails a connect at once, for a peer that does not exist.
    public func fail(_ side: SimSide, _ reason: String, after delay: Int64) {
        schedule(.failed(side, reason), at: now + delay)
    }

    /// Puts a frame on `side`'s link, behind everything its endpoint is already uploading.
    public func send(_ frame: OutboundFrame, from side: SimSide) {
        guard let model, let id = connectionOf[side], var connection = connections[id], !connection.reset,
            !connection.closedBy[connection.index(of: side)]
        else { return }
        let endpoint = side.endpoint
        let other = connection.a == side ? connection.b : connection.a
        let (tier, latency) = model.latency(endpoint, other.endpoint)
        let bytes = model.wireBytes(frame)
        let start = max(now, uplinkFree[endpoint])
        let finish = start + Int64((Double(bytes) / uplink[endpoint] * 1e9).rounded(.up))
        uplinkFree[endpoint] = finish
        if case .chunk(let index, _) = frame { schedule(.sent(side, index: index), at: finish) }
        let tampered = model.onWire(frame, from: side, to: other, tier: tier, finish: finish)
        if model.gremlinResets(from: endpoint, to: other.endpoint, at: finish) {
            connections[id]!.reset = true
            schedule(.failed(side, "connection reset"), at: finish + latency)
            schedule(.failed(other, "connection reset"), at: finish + latency)
            return
        }
        var at = finish + latency + model.gremlinDelay()
        let direction = connection.index(of: side)
        at = max(at, connection.lastDelivery[direction])
        connection.lastDelivery[direction] = at
        connections[id] = connection
        schedule(.frame(to: other, frame, tampered: tampered), at: at)
    }

    /// Closes `side`'s end (after a BYE, if `code` is given): the other end sees BYE, then the link end.
    public func close(_ side: SimSide, _ code: ByeCode?, reason: String) {
        guard let model, let id = connectionOf[side], let connection = connections[id], !connection.reset,
            !connection.closedBy[connection.index(of: side)]
        else { return }
        let other = connection.a == side ? connection.b : connection.a
        let latency = model.latency(side.endpoint, other.endpoint).ns
        let at = max(max(now, uplinkFree[side.endpoint]) + latency, connection.lastDelivery[connection.index(of: side)])
        if let code { schedule(.frame(to: other, .bye(code, reason), tampered: false), at: at) }
        connections[id]!.closedBy[connection.index(of: side)] = true
        connections[id]!.lastDelivery[connection.index(of: side)] = at + 1
        schedule(.failed(other, "closed by peer"), at: at + 1)
    }

    /// An endpoint dies: every link it has is reset, and the other ends hear of it after the latency.
    public func kill(_ endpoint: Int) {
        guard let model else { return }
        for (id, connection) in connections.sorted(by: { $0.key < $1.key })
        where !connection.reset && (connection.a.endpoint == endpoint || connection.b.endpoint == endpoint) {
            connections[id]!.reset = true
            let other = connection.a.endpoint == endpoint ? connection.b : connection.a
            schedule(.failed(other, "connection reset by peer"), at: now + model.latency(endpoint, other.endpoint).ns)
        }
    }

    /// A link failure reaches `side`: false if its end was already closed (it hears of it once).
    public func failureReaches(_ side: SimSide) -> Bool {
        guard let id = connectionOf[side], let c = connections[id] else { return true }
        if c.closedBy[c.index(of: side)] { return false }
        connections[id]!.closedBy[c.index(of: side)] = true
        return true
    }

    /// How a frame arriving at `side` is taken: dropped (the link is gone at this end), the accepting end's first
    /// HELLO (the connector's introduction), or any other frame.
    public enum Arrival { case dropped, introduction, frame }

    public func arrival(at side: SimSide, isHello: Bool) -> Arrival {
        guard let id = connectionOf[side], let connection = connections[id], !connection.reset,
            !connection.closedBy[connection.index(of: side)]
        else { return .dropped }
        if isHello && connection.b == side && !connection.acceptedByB {
            connections[id]!.acceptedByB = true
            return .introduction
        }
        return .frame
    }
}
