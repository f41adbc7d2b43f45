public import BenCore

extension AgentMachine {
    /// Everything that can happen to an agent, as the shell (or the simulator) hands it in. Hashing and
    /// signature checks are done before: the input carries their results.
    public enum Input: Sendable {
        /// An announcement arrived over NATS, its signature checked; `local` is what the store holds of it.
        case announcement(IncomingAnnouncement, local: LocalHoldings?)
        /// The ledger asked this node by name for its answer to a version.
        case answerRequested(Version)
        /// Someone connected to this node's listener and sent HELLO.
        case linkAccepted(LinkID, hello: Hello, announcement: IncomingAnnouncement?, local: LocalHoldings?)
        /// An outbound link (to a child, or a pull source) connected.
        case linkConnected(LinkID)
        /// The accepting side of a link this node opened answered HELLO.
        case hello(LinkID, Hello)
        case plan(LinkID, Subtree)
        /// The manifest arrived; `manifest` is nil if unreadable, `actualKey` the hash of its bytes.
        case manifest(LinkID, Manifest?, actualKey: Key)
        /// A chunk arrived and hashed to `actualKey`.
        case chunk(LinkID, index: Int, claimedKey: Key, actualKey: Key)
        /// A chunk frame this node sent has left.
        case chunkSent(LinkID, index: Int)
        case nack(LinkID, [NackEntry])
        case ack(LinkID, Aggregate)
        case bye(LinkID, ByeCode, reason: String)
        /// A link ended: refused, reset, timed out, or closed after BYE.
        case linkFailed(LinkID, reason: String)
        /// Compiling a received bundle finished.
        case compiled(Version, CompileOutcome)
        /// Bytes received so far on each link, partial frames included.
        case linkBytes([LinkID: Int64])
        /// The ledger's activation of a two-phase version arrived over NATS, its signature checked.
        case activation(IncomingActivation)
        /// The ledger's alarm arrived (over NATS or gossip), its signature checked.
        case alarm(IncomingAlarm)
        case timer(Timer)
        /// Gossip's membership declared this node dead (AgentMachine+Membership.swift).
        case memberDead(NodeID, reason: String)
    }

    /// The one entry point: every input, in the order the shell saw them, each answered with the actions to carry
    /// out in order. The named `on…` methods are the same, one per input.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .announcement(let incoming, let local): onAnnouncement(incoming, local: local, now: now)
        case .answerRequested(let version): onAnswerRequested(version, now: now)
        case .linkAccepted(let link, let hello, let announcement, let local):
            onLinkAccepted(link, hello: hello, announcement: announcement, local: local, now: now)
        case .linkConnected(let link): onLinkConnected(link, now: now)
        case .hello(let link, let hello): onHello(link, hello: hello, now: now)
        case .plan(let link, let subtree): onPlan(link, subtree: subtree, now: now)
        case .manifest(let link, let manifest, let actualKey): onManifest(link, manifest: manifest, actualKey: actualKey, now: now)
        case .chunk(let link, let index, let claimedKey, let actualKey):
            onChunk(link, index: index, claimedKey: claimedKey, actualKey: actualKey, now: now)
        case .chunkSent(let link, let index): onChunkSent(link, index: index, now: now)
        case .nack(let link, let entries): onNack(link, entries: entries, now: now)
        case .ack(let link, let aggregate): onAck(link, aggregate: aggregate, now: now)
        case .bye(let link, let code, let reason): onBye(link, code: code, reason: reason, now: now)
        case .linkFailed(let link, let reason): onLinkFailed(link, reason: reason, now: now)
        case .compiled(let version, let outcome): onCompiled(version, outcome: outcome, now: now)
        case .linkBytes(let received): onLinkBytes(received, now: now)
        case .activation(let incoming): onActivation(incoming, now: now)
        case .alarm(let incoming): onAlarm(incoming, now: now)
        case .timer(let timer): onTimer(timer, now: now)
        case .memberDead(let member, let reason): onMemberDead(member, reason: reason, now: now)
        }
    }
}
