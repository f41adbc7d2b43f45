public import BenMetrics
public import BenNATS

extension Readiness.Check {
    /// The `nats` check both daemons answer: connected, or where it is trying to connect (`servers`, as
    /// configured) and in what state.
    public static func nats(_ connection: NATSConnection?, servers: [String]) -> Readiness.Check {
        let status = connection?.status
        let configured = servers.joined(separator: ",")
        return Readiness.Check(
            name: "nats", ok: status == .connected,
            detail: status.map { "\($0) (\(connection?.connectedURL ?? configured))" } ?? "not connected yet to \(configured)")
    }
}
