import BenCore
import NIOCore

/// Serves chunks to nodes that pull them (orphans, and nodes refetching what a relay could not deliver): the
/// ledger from its store, agents from theirs. Each pulling link has its own window, as child links do.
struct PullServer: Sendable, Hashable {
    struct Serve: Sendable, Hashable {
        var peer: NodeID
        var queue = CircularBuffer<Int32>()
        var inFlight = 0
    }

    let window: Int
    private(set) var links: [LinkID: Serve] = [:]

    init(window: Int) {
        self.window = window
    }

    func isServing(_ link: LinkID) -> Bool { links[link] != nil }

    mutating func open(_ link: LinkID, peer: NodeID) { links[link] = Serve(peer: peer) }

    mutating func close(_ link: LinkID) -> Bool { links.removeValue(forKey: link) != nil }

    var openLinks: [LinkID] { links.keys.sorted() }

    /// A puller asked for chunks (or the manifest). What is held is queued; the rest is answered `lacking`.
    mutating func onWant(_ link: LinkID, entries: [NackEntry], have: ChunkSet, chunkKeys: [Key]?, manifest: Key) -> [RelayAction] {
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
            } else {
                lacking.append(NackEntry(index: entry.index, code: .lacking))
            }
        }
        links[link] = serve
        if !lacking.isEmpty { actions.append(.send(link, .nack(lacking))) }
        return actions + pump(link, chunkKeys: chunkKeys)
    }

    mutating func onSent(_ link: LinkID, chunkKeys: [Key]?) -> [RelayAction] {
        guard links[link] != nil else { return [] }
        links[link]!.inFlight = max(0, links[link]!.inFlight - 1)
        return pump(link, chunkKeys: chunkKeys)
    }

    private mutating func pump(_ link: LinkID, chunkKeys: [Key]?) -> [RelayAction] {
        guard var serve = links[link], let keys = chunkKeys else { return [] }
        var actions: [RelayAction] = []
        while serve.inFlight < window, let next = serve.queue.popFirst() {
            serve.inFlight += 1
            actions.append(.send(link, .chunk(index: Int(next), key: keys[Int(next)])))
        }
        links[link] = serve
        return actions
    }
}
