public import BenCore

/// Who the far side of a link is, once its handshake proved it holds a key: the rule that binds that key to the
/// id it claims (issue 15). A key is an id's key when it is a trusted ledger key (for `ledger`), when this side
/// knows the id's key already (the ledger knows the topology's), or when a ledger-signed assignment says so.
public enum LinkAuthorization {
    /// What one side trusts when it checks who is on a link.
    public struct Trust: Sendable, Hashable {
        /// The fleet; a claim for another fleet is refused.
        public var fleet: FleetName
        /// The ledger keys this side trusts (the same that sign announcements).
        public var ledgerKeys: [[UInt8]]
        /// Keys this side knows by id without a credential: the topology's, on the ledger.
        public var knownKeys: [NodeID: [UInt8]]

        /// Trust in `ledgerKeys`, and in `knownKeys` by id.
        public init(fleet: FleetName, ledgerKeys: [[UInt8]], knownKeys: [NodeID: [UInt8]] = [:]) {
            self.fleet = fleet
            self.ledgerKeys = ledgerKeys
            self.knownKeys = knownKeys
        }
    }

    /// What the far side proved to be.
    public enum Standing: Sendable, Hashable {
        /// The ledger: it holds a trusted ledger key.
        case ledger
        /// A node. `assigned` is the version of the signed assignment that bound its key, when one did (nil when
        /// this side knew the key from the topology).
        case node(NodeID, assigned: Version?)

        /// The node the link was authorized as.
        public var node: NodeID {
            switch self {
            case .ledger: .ledger
            case .node(let id, _): id
            }
        }
    }

    /// Decides a claim. `credential` is the assignment the far side presented, `expected` one this side holds
    /// for the node it dialled (a child's, from its subtree); both must already have passed the ledger-signature
    /// check, or be nil.
    public static func decide(
        _ claim: LinkHandshake.Claim, credential: Assignment?, expected: Assignment?, trust: Trust
    ) -> Result<Standing, Refusal> {
        if claim.node == .ledger {
            return trust.ledgerKeys.contains(claim.key)
                ? .success(.ledger) : .failure(Refusal("it claims to be the ledger but does not hold a trusted ledger key"))
        }
        let assignments = [credential, expected].compactMap { $0 }
        if let known = trust.knownKeys[claim.node] {
            guard known == claim.key else { return .failure(Refusal("its key is not the one the topology lists for \(claim.node)")) }
            // The topology binds the key; a signed assignment for the same node and key still says it is a member of
            // that rollout (an agent lets only such a node pull chunks, whether or not it knows the topology).
            let assigned = assignments.first { $0.fleet == trust.fleet && $0.node == claim.node && $0.key == claim.key }
            return .success(.node(claim.node, assigned: assigned?.version))
        }
        for assignment in assignments {
            guard assignment.fleet == trust.fleet, assignment.node == claim.node else { continue }
            guard assignment.key == claim.key else {
                return .failure(Refusal("its key is not the one the ledger assigned to \(claim.node)"))
            }
            return .success(.node(claim.node, assigned: assignment.version))
        }
        return .failure(Refusal("\(claim.node) presented no ledger-signed assignment for its key"))
    }

    /// Why a claim was refused, in words for logs and the BYE.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// The reason.
        public var description: String
        /// A refusal saying `description`.
        public init(_ description: String) { self.description = description }
    }
}

/// The plan rule for parents (issue 15): a node takes a parent only if a ledger-signed assignment names it.
public enum PlanAuthority {
    /// Whether `peer` may feed `me`: named in my assignment (a parent or backup), or reached through `via`, the
    /// assignments of the nodes between us, each naming the next as its parent; the ledger always may. Each
    /// assignment must already have passed the ledger-signature check.
    public static func mayFeed(_ peer: NodeID, me: NodeID, assignment: Assignment, via: [Assignment]) -> Result<
        Void, LinkAuthorization.Refusal
    > {
        if peer == .ledger { return .success(()) }
        guard assignment.node == me else {
            return .failure(.init("the plan it sent is \(assignment.node)'s, not this node's"))
        }
        if assignment.names(peer) { return .success(()) }
        var allowed = Set(assignment.parents)
        for step in via {
            guard step.version == assignment.version, allowed.contains(step.node) else {
                return .failure(.init("its chain of assignments does not lead from this node's parents to \(peer)"))
            }
            if step.parents.contains(peer) { return .success(()) }
            allowed = Set(step.parents)
        }
        return .failure(.init("no signed plan names \(peer) as a parent of \(me)"))
    }
}
