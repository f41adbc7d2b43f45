/// How a `NATSConnection` behaves. Every field has a default suited to Ben's control plane: small messages,
/// request/reply latency that matters, and servers that restart now and then.
public struct NATSSettings: Sendable, Hashable {
    /// The client's name, shown in the server's monitoring (`/connz`). Default: none.
    public var name: String?

    /// How long one attempt to reach one server may take (TCP connect and the NATS handshake). Default 2 s.
    public var connectTimeout: Duration = .seconds(2)

    /// What to do when the connection is lost (and, optionally, when the first connect fails).
    public var reconnect = Reconnect()

    /// Send each publish (and each reply) to the socket at once rather than letting libnats's flusher batch
    /// it (`natsOptions_SetSendAsap`). Batching helps throughput but adds about a millisecond to every
    /// request/reply round trip; Ben's control plane sends few, small messages and cares about latency, so
    /// the default is true. Requests themselves are always sent at once.
    public var sendAsap = true

    /// How often the client pings the server to notice a dead connection. libnats's default is 2 minutes;
    /// Ben's is 10 s so that a vanished server is noticed (and reconnected to) within about `pingInterval` ×
    /// `maxPingsOutstanding`.
    public var pingInterval: Duration = .seconds(10)

    /// How many pings may go unanswered before the connection is considered dead. Default 2.
    public var maxPingsOutstanding = 2

    /// Bytes of publishes kept while reconnecting, sent once the connection is back; a publish beyond this
    /// fails. Default 8 MiB (libnats's default).
    public var reconnectBufferSize = 8 << 20

    /// Fail requests in flight at once when the connection drops, with a "disconnected" error, rather than
    /// letting them run into their timeout. Default true: the caller learns the real reason sooner.
    public var failRequestsOnDisconnect = true

    /// Do not deliver this connection's own publishes to its own subscriptions. Default false.
    public var noEcho = false

    /// A NATS credentials file to authenticate with; nil connects without credentials. Default nil.
    ///
    /// Either Ben's nkey credentials, as `benctl nats config` writes them for the ledger, each node and each operator
    /// (the connection's inboxes are then `_INBOX.<its public nkey>.…`, the only ones the server lets it read), or a
    /// standard `.creds` file (a user JWT and its seed) for servers that use NATS's JWT accounts. See
    /// `NATSCredentials`. A file that group or others can read is refused.
    public var credentialsFile: String?

    public init() {}

    /// Reconnection with exponential backoff and jitter.
    ///
    /// After a connection is lost, libnats tries every server in the list; each time the whole list has failed,
    /// it waits `initialDelay × multiplier^(n-1)` (capped at `maxDelay`, randomised by ± `jitter`) before round n
    /// of attempts. Publishes made meanwhile are buffered (up to `reconnectBufferSize`) and subscriptions are
    /// re-established by the client on reconnect.
    public struct Reconnect: Sendable, Hashable {
        /// Reconnect at all after a lost connection. Default true.
        public var enabled = true
        /// Attempts per server before giving up and closing the connection for good; nil retries forever.
        /// Default nil: a control-plane client should outlive any server restart.
        public var maxAttempts: Int?
        /// Wait before the first round of attempts. Default 100 ms.
        public var initialDelay: Duration = .milliseconds(100)
        /// The longest wait between rounds. Default 2 s.
        public var maxDelay: Duration = .seconds(2)
        /// Growth of the wait between rounds. Default 2.
        public var multiplier = 2.0
        /// Random spread of each wait, as a fraction of it (0.2 = ± 20 %), so that a fleet does not reconnect in
        /// lock step after a server restart. Default 0.2.
        public var jitter = 0.2
        /// When the very first connect fails because no server answers, keep trying with the same backoff
        /// (up to `maxAttempts`) instead of throwing at once. The wait is cancellable: cancelling the
        /// connecting task stops it. Default false.
        public var retryInitialConnect = false

        public init() {}

        /// The wait before round `attempt` (1-based), before jitter.
        public func delay(beforeRound attempt: Int) -> Duration {
            let factor = Double.minimum(pow2(multiplier, attempt - 1), 1e9)
            let ms = Double(milliseconds(initialDelay)) * factor
            return .milliseconds(Int64(Double.minimum(ms, Double(milliseconds(maxDelay)))))
        }

        /// The wait before round `attempt`, with jitter drawn from `generator`.
        public func jitteredDelay(beforeRound attempt: Int, using generator: inout some RandomNumberGenerator)
            -> Duration
        {
            let base = Double(milliseconds(delay(beforeRound: attempt)))
            let spread = base * max(0, jitter)
            let ms = spread > 0 ? base + Double.random(in: -spread...spread, using: &generator) : base
            return .milliseconds(Int64(max(1, ms)))
        }

        private func pow2(_ base: Double, _ exponent: Int) -> Double {
            var result = 1.0
            for _ in 0..<max(0, min(exponent, 64)) { result *= base }
            return result
        }
    }
}
