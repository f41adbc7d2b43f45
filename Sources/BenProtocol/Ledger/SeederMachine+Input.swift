public import BenCore

extension SeederMachine {
    /// Everything that can happen to the ledger's side of one rollout's peer links.
    public enum Input: Sendable {
        /// Begin: connect to the first level of every stripe tree.
        case start
        /// The rollout is over or superseded: close every link.
        case stop(reason: String)
        case linkConnected(LinkID)
        /// A first-level node answered the ledger's HELLO.
        case hello(LinkID, Hello)
        /// A node connected to pull from the store and sent HELLO.
        case linkAccepted(LinkID, hello: Hello)
        case nack(LinkID, [NackEntry])
        case chunkSent(LinkID, index: Int)
        case ack(LinkID, Aggregate)
        case bye(LinkID, ByeCode, reason: String)
        case linkFailed(LinkID, reason: String)
        case timer(Timer)
    }

    /// The one entry point; the named `on…` methods are the same, one per input.
    public mutating func handle(_ input: Input, now: Timestamp) -> [Action] {
        switch input {
        case .start: start()
        case .stop(let reason): stop(reason: reason)
        case .linkConnected(let link): onLinkConnected(link, now: now)
        case .hello(let link, let hello): onHello(link, hello: hello, now: now)
        case .linkAccepted(let link, let hello): onLinkAccepted(link, hello: hello, now: now)
        case .nack(let link, let entries): onNack(link, entries: entries, now: now)
        case .chunkSent(let link, let index): onChunkSent(link, index: index, now: now)
        case .ack(let link, let aggregate): onAck(link, aggregate: aggregate, now: now)
        case .bye(let link, let code, let reason): onBye(link, code: code, reason: reason, now: now)
        case .linkFailed(let link, let reason): onLinkFailed(link, reason: reason, now: now)
        case .timer(let timer): onTimer(timer, now: now)
        }
    }
}
