import BenCore
import NIOCore

/// Serves chunks to nodes that pull them (orphans, and nodes refetching what a relay could not deliver): the
/// ledger from its store, agents from theirs. Each pulling link has its own window, as child links do.
///
/// A holder that is itself still receiving the version, and close behind the wanted chunk in its stripe, keeps a
/// want for a chunk it lacks and serves it when the chunk arrives (issue 12: recovery goes to peers before the
/// ledger). Answering `lacking` at once sent every puller on a busy fleet, where no backup held anything yet,
/// straight to the ledger's store. A holder that never gets the chunk stays silent on the link, and the puller's
/// stall check moves on to the next holder.
struct PullServer: Sendable, Hashable {
    struct Serve: Sendable, Hashable {
        var peer: NodeID
        var queue = CircularBuffer<Int32>()
        var inFlight = 0
        /// Chunks wanted that this holder does not have yet but is receiving.
        var awaited = Set<Int32>()
    }

    let window: Int
    private(set) var links: [LinkID: Serve] = [:]
    /// Chunks wait in their queues and none is sent (the ledger holds pulls while it seeds: `SeederMachine`).
    private(set) var held = false

    init(window: Int) {
        self.window = window
    }

    func isServing(_ link: LinkID) -> Bool { links[link] != nil }

    mutating func open(_ link: LinkID, peer: NodeID) { links[link] = Serve(peer: peer) }

    mutating func close(_ link: LinkID) -> Bool { links.removeValue(forKey: link) != nil }

    var openLinks: [LinkID] { links.keys.sorted() }

    /// A puller asked for chunks (or the manifest). What is held is queued; what is not is kept until it arrives
    /// when `expected` says it soon will, and otherwise answered `lacking`.
    mutating func onWant(
        _ link: LinkID, entries: [NackEntry], have: ChunkSet, chunkKeys: [Key]?, manifest: Key, expected: (Int) -> Bool = { _ in false }
    ) -> [RelayAction] {
        guard var serve = links[link] else { return [] }
        var actions: [RelayAction] = []
        var lacking: [NackEntry] = []
        for entry in entries where entry.code == .want {
            if entry.index == NackEntry.manifestIndex {
                if chunkKeys != nil {
                    actions.append(.send(link, .manifest(manifest)))
                } else {
                    lacking.append(NackEntry(index: entry.index, code: .lacking))
                }
            } else if have.contains(Int(entry.index)) {
                serve.queue.append(Int32(entry.index))
            } else if expected(Int(entry.index)) {
                serve.awaited.insert(Int32(entry.index))
            } else {
                lacking.append(NackEntry(index: entry.index, code: .lacking))
            }
        }
        links[link] = serve
        if !lacking.isEmpty { actions.append(.send(link, .nack(lacking))) }
        return actions + pump(link, chunkKeys: chunkKeys)
    }

    /// Chunk `index` arrived here: every puller waiting for it is sent it.
    mutating func onHave(_ index: Int, chunkKeys: [Key]?) -> [RelayAction] {
        var actions: [RelayAction] = []
        for link in links.keys.sorted() where links[link]!.awaited.remove(Int32(index)) != nil {
            links[link]!.queue.append(Int32(index))
            actions += pump(link, chunkKeys: chunkKeys)
        }
        return actions
    }

    /// This holder stopped receiving (it has everything, or gave up): what it still awaits is answered `lacking`.
    mutating func stopAwaiting() -> [RelayAction] {
        var actions: [RelayAction] = []
        for link in links.keys.sorted() where !links[link]!.awaited.isEmpty {
            let lacking = links[link]!.awaited.sorted().map { NackEntry(index: UInt32($0), code: .lacking) }
            links[link]!.awaited = []
            actions.append(.send(link, .nack(lacking)))
        }
        return actions
    }

    /// Whether a chunk waits to be sent on any link.
    var hasQueued: Bool { links.values.contains { !$0.queue.isEmpty } }

    /// Stops sending chunks; what is asked for queues.
    mutating func hold() { held = true }

    /// Sends again, starting with what queued while held.
    mutating func release(chunkKeys: [Key]?) -> [RelayAction] {
        guard held else { return [] }
        held = false
        return links.keys.sorted().flatMap { pump($0, chunkKeys: chunkKeys) }
    }

    mutating func onSent(_ link: LinkID, chunkKeys: [Key]?) -> [RelayAction] {
        guard links[link] != nil else { return [] }
        links[link]!.inFlight = max(0, links[link]!.inFlight - 1)
        return pump(link, chunkKeys: chunkKeys)
    }

    private mutating func pump(_ link: LinkID, chunkKeys: [Key]?) -> [RelayAction] {
        guard !held, var serve = links[link], let keys = chunkKeys else { return [] }
        var actions: [RelayAction] = []
        while serve.inFlight < window, let next = serve.queue.popFirst() {
            serve.inFlight += 1
            actions.append(.send(link, .chunk(index: Int(next), key: keys[Int(next)])))
        }
        links[link] = serve
        return actions
    }
}
