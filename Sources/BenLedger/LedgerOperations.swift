import BenCore
import BenMetrics
import BenProtocol
import Synchronization

/// What the ledger's shell keeps for operations only (metrics, the status page), apart from its protocol state:
/// which node each peer link goes to, for the `tier` label; the tier map and the status page's stripe-tree view,
/// each built once per topology or plan rather than per event or per scrape.
public final class LedgerOperations: Sendable {
    private struct State {
        var peers: [LinkID: NodeID] = [:]
        var tiers: (key: Key, map: TierMap)?
        var trees: (key: Key, view: JSONValue)?
    }

    private let state = Mutex(State())

    public init() {}

    func linkOpened(_ link: LinkID, to node: NodeID) {
        state.withLock { $0.peers[link] = node }
    }

    func linkClosed(_ link: LinkID) {
        _ = state.withLock { $0.peers.removeValue(forKey: link) }
    }

    func peer(of link: LinkID) -> NodeID? {
        state.withLock { $0.peers[link] }
    }

    /// The tier map of the topology with this key, built by `make` the first time it is asked for.
    func tiers(for key: Key, make: () -> TierMap) -> TierMap {
        if let cached = state.withLock({ $0.tiers }), cached.key == key { return cached.map }
        let map = make()
        state.withLock { $0.tiers = (key, map) }
        return map
    }

    /// The stripe-tree view of the plan with this key, built by `make` the first time it is asked for.
    func trees(for key: Key, make: () -> JSONValue?) -> JSONValue? {
        if let cached = state.withLock({ $0.trees }), cached.key == key { return cached.view }
        guard let view = make() else { return nil }
        state.withLock { $0.trees = (key, view) }
        return view
    }
}
