import BenCore
import BenPeerLink
import BenProtocol

/// What the agent believes about who is on a link (issue 15): the handshake proved a key, and a ledger-signed
/// assignment must name the peer before this node takes it as a parent.
extension AgentService {
    /// Why a HELLO is refused on this link, if it is: it must name the node the handshake proved, and a puller
    /// must have proven its key with a signed assignment (a member of some planned rollout).
    func refusal(of hello: Hello, on link: LinkID) -> String? {
        guard configuration.peerLink.security != nil else { return nil }
        guard let proven = provenPeer[link] else { return "the link has no proven peer" }
        guard hello.node == proven.node else { return "its HELLO says \(hello.node), but its handshake proved \(proven.node)" }
        if hello.purpose == .pull, case .node(let id, let assigned) = proven.standing, assigned == nil {
            return "\(id) asked for chunks without a signed assignment"
        }
        return nil
    }

    /// Why a PLAN is refused, if it is: it must carry this node's own assignment, signed by the ledger for this
    /// version and key, and that assignment (or the chain in `via`) must name the link's proven peer as one who
    /// may feed this node (`PlanAuthority`). An accepted assignment is what this node presents from then on.
    func refusal(of subtree: Subtree, on link: LinkID) -> String? {
        guard let security = configuration.peerLink.security else { return nil }
        guard let proven = provenPeer[link] else { return "the link has no proven peer" }
        guard let envelope = subtree.root.assignment else { return "the PLAN carries no signed assignment for this node" }
        let own: Assignment
        switch security.verify(envelope) {
        case .success(let a): own = a
        case .failure(let refusal): return "the PLAN's assignment for this node: \(refusal)"
        }
        guard own.version == subtree.version, own.node == configuration.node, own.key == configuration.key.publicKey.bytes else {
            return "the PLAN's assignment is not this node's for \(subtree.version)"
        }
        var via: [Assignment] = []
        for step in subtree.via {
            switch security.verify(step) {
            case .success(let a): via.append(a)
            case .failure(let refusal): return "the PLAN's chain of assignments: \(refusal)"
            }
        }
        if case .failure(let refusal) = PlanAuthority.mayFeed(proven.node, me: configuration.node, assignment: own, via: via) {
            return refusal.description
        }
        security.learn(ownAssignment: envelope)
        return nil
    }

    /// A verified manifest's chunks may arrive from now on: CHUNK frames up to its largest chunk are accepted.
    func allowChunks(of manifest: Manifest) {
        configuration.peerLink.chunkFrames.allow(chunkBytes: Int(manifest.artifacts.map(\.chunkSize).max() ?? 0))
    }
}
