public import BenCore
public import BenMetrics
public import Logging
public import ServiceLifecycle

/// What a daemon's service offers the shared runner: the agent's and the ledger's services.
public protocol OperatedService: Sendable {
    /// Runs until cancelled.
    func run() async throws
    /// What `/readyz` reports.
    func readiness() async -> Readiness
    /// Sets the gauges read at scrape time.
    func collectMetrics() async
}

/// How `ben-agent` and `ben-ledger` run once their settings are read: metrics first, then the service, its health
/// and metrics listener and any other listener, as one service group until SIGTERM or SIGINT.
public enum DaemonRunner {
    /// Runs the service `make` creates.
    ///
    /// - Parameters:
    ///   - process: who reports the metrics.
    ///   - metrics: where `/metrics`, `/healthz` and `/readyz` are served, or nil for no listener.
    ///   - make: creates the service; called after the metrics system is bootstrapped, so that everything the
    ///     service reports from its first event on is kept.
    ///   - listeners: more listeners of the service (the ledger's status page), given its health.
    public static func run<S: OperatedService>(
        process: Metric.Reporter, metrics: HostPort?, logger: Logger, make: () throws -> S,
        listeners: (S, OperationsServer.HealthSource) -> [any Service] = { _, _ in [] }
    ) async throws {
        let exposition = metrics.map { _ in PrometheusExposition.bootstrap(process: process, release: BenRelease.current) }
        let service = try make()
        let health = OperationsServer.HealthSource(collect: { await service.collectMetrics() }, readiness: { await service.readiness() })
        var services: [any Service] = [DaemonService { try await service.run() }]
        if let metrics, let exposition {
            services.append(OperationsServer.metricsListener(at: metrics, exposition: exposition, health: health, logger: logger))
        }
        services += listeners(service, health)
        try await DaemonService.runGroup(services, logger: logger)
    }
}
