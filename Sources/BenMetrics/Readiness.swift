/// What `/readyz` answers: each thing a process needs before it can do its job, and whether it has it.
///
/// The ledger is ready with NATS, its keys (its signing key, operator keys, and the node keys of an applied
/// topology, without which no ack can verify). An agent is ready with NATS, its keys, and a verified version it
/// serves. A process that is alive but not ready still answers `/healthz`.
public struct Readiness: Sendable, Hashable {
    public struct Check: Sendable, Hashable {
        /// `nats`, `keys`, `topology`, `version`.
        public var name: String
        public var ok: Bool
        /// What it has, or what it lacks and what to do about it.
        public var detail: String

        public init(name: String, ok: Bool, detail: String) {
            self.name = name
            self.ok = ok
            self.detail = detail
        }
    }

    public var checks: [Check]

    public init(_ checks: [Check]) {
        self.checks = checks
    }

    public var isReady: Bool { checks.allSatisfy(\.ok) }
}
