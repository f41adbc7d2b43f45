public import BenCore

extension AgentMachine {
    /// What the agent machine asks its shell to do. The shell carries these out in order; where order matters
    /// (persist before ack) the machine emits them in that order.
    public enum Action: Sendable, Hashable {
        /// Open a TCP link to `peer` and, once connected, report `.linkConnected`.
        case connect(LinkID, peer: PlanNode, purpose: Hello.Purpose)
        /// Write one frame on a link. `.chunk` and `.manifest` are read from the shell's store when sent.
        case send(LinkID, OutboundFrame)
        /// Close a link, after a BYE with this code and reason if one is given.
        case close(LinkID, ByeCode?, reason: String)
        /// Store the chunk whose frame is being handled (its bytes were checked against `key`).
        case storeChunk(index: Int, key: Key)
        /// Store the manifest whose frame is being handled (its bytes were checked against `key`).
        case storeManifest(Key)
        /// Make this state durable before carrying out any later action.
        case persist(AgentRecord)
        /// Compile the artifacts this node's roles need, off the hot path; report `.compiled`.
        case compile(Version, manifest: Key)
        /// Swap the compiled version in (one atomic reference swap).
        case activate(Version)
        /// Drop a compiled but never activated version.
        case discardCompiled(Version)
        /// Publish an aggregate on `ben.<fleet>.ack` (orphans, and relays whose parent link is gone).
        case publishAggregate(Aggregate)
        case armTimer(Timer, at: Timestamp)
        case cancelTimer(Timer)
        /// Something an operator may want in the log; the machine decided it, the shell writes it.
        case report(PeerReport)
    }

    /// The agent's timers. Each comes back as `.timer(_)`.
    public enum Timer: Sendable, Hashable, CustomStringConvertible {
        /// No parent has contacted this node since it accepted the announcement: pull from the store.
        case orphan(Version)
        /// Send the aggregate with whatever acks are in.
        case ackDeadline(Version)
        /// Try a failed child link again.
        case linkRetry(Version, NodeID)
        /// Look for stripes whose chunks stopped arriving, and fetch those chunks elsewhere.
        case progressCheck(Version)
        /// Look for child links this relay's upload has fallen behind on, and hand their backlog off.
        case relayCheck(Version)
        /// The announcement's deadline: links kept open only for acks still to come close.
        case deploymentDeadline(Version)
        /// Two-phase: the activation's barrier; the prepared version is swapped in.
        case barrier(Version)

        /// The timer as logs name it.
        public var description: String {
            switch self {
            case .orphan(let v): "orphan(\(v))"
            case .ackDeadline(let v): "ack-deadline(\(v))"
            case .linkRetry(let v, let n): "link-retry(\(v), \(n))"
            case .progressCheck(let v): "progress-check(\(v))"
            case .relayCheck(let v): "relay-check(\(v))"
            case .deploymentDeadline(let v): "deadline(\(v))"
            case .barrier(let v): "barrier(\(v))"
            }
        }
    }
}

extension AgentMachine {
    /// The relay core's and the pull server's requests, as this machine's actions.
    func lift(_ relay: [RelayAction]) -> [Action] {
        relay.map { action in
            switch action {
            case .connect(let link, let peer, let purpose): .connect(link, peer: peer, purpose: purpose)
            case .send(let link, let frame): .send(link, frame)
            case .close(let link, let code, let reason): .close(link, code, reason: reason)
            case .retry(let version, let child, let at): .armTimer(.linkRetry(version, child), at: at)
            case .report(let report): .report(report)
            }
        }
    }
}
