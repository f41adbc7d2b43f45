public import BenCore
public import BenMetrics
import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import Synchronization

/// An HTTP listener for operators (DESIGN §9, issue 18), off unless its address is given: `/metrics` (the Prometheus
/// exposition of every metric the process reports), `/healthz` (alive) and `/readyz` (has what it needs), and, on
/// the ledger's `--status-listen`, the live status page and its feed.
///
/// Each listener is a Hummingbird application that runs as a service of the daemon's `ServiceGroup`, so it starts
/// and stops with the daemon. It reads the daemon's state only through the closures it is given, which call the
/// shell's actor: the listener holds no state of its own.
public enum OperationsServer {
    /// What `/metrics`, `/healthz` and `/readyz` read.
    public struct HealthSource: Sendable {
        /// Sets the gauges that are read at scrape time (links open, rollouts by state, …).
        public var collect: @Sendable () async -> Void
        public var readiness: @Sendable () async -> Readiness
    }

    /// What the status page reads (the ledger only).
    public struct StatusSource: Sendable {
        /// Changes whenever `document` would; cheap, polled every `StatusFeed.interval`.
        public var fingerprint: @Sendable () async -> String
        /// The whole page's data.
        public var document: @Sendable () async -> JSONValue

        public init(fingerprint: @escaping @Sendable () async -> String, document: @escaping @Sendable () async -> JSONValue) {
            self.fingerprint = fingerprint
            self.document = document
        }
    }

    /// The metrics listener: `/metrics`, `/healthz`, `/readyz`.
    public static func metricsListener(
        at address: HostPort, exposition: PrometheusExposition, health: HealthSource, logger: Logger
    ) -> some Service {
        let router = Router()
        addHealthRoutes(router, health: health)
        router.get("/metrics") { _, _ -> Response in
            await health.collect()
            return Response(
                status: .ok, headers: [.contentType: PrometheusExposition.contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: exposition.render())))
        }
        return application(router, address: address, name: "ben-metrics", logger: logger)
    }

    /// The status page listener: the page at `/`, its data at `/api/status`, the live feed at `/api/events`
    /// (server-sent events), and `/healthz`, `/readyz`.
    public static func statusListener(
        at address: HostPort, status: StatusSource, health: HealthSource, feed: StatusFeed = StatusFeed(), logger: Logger
    ) -> some Service {
        let router = Router()
        let cache = StatusCache(status)
        addHealthRoutes(router, health: health)
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPageHTML.page)))
        }
        router.get("/api/status") { _, _ -> Response in
            let (_, bytes) = await cache.current()
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/api/events") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", .init("X-Accel-Buffering")!: "no"],
                body: ResponseBody { writer in
                    try await feed.stream(cache, to: &writer)
                    try await writer.finish(nil)
                })
        }
        return application(router, address: address, name: "ben-status", logger: logger)
    }

    static func addHealthRoutes(_ router: Router<BasicRequestContext>, health: HealthSource) {
        router.get("/healthz") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"alive\"}\n")))
        }
        router.get("/readyz") { _, _ -> Response in
            let readiness = await health.readiness()
            var checks: [String: JSONValue] = [:]
            for check in readiness.checks { checks[check.name] = ["ok": .bool(check.ok), "detail": .string(check.detail)] }
            let body: JSONValue = ["ready": .bool(readiness.isReady), "checks": .object(checks)]
            return Response(
                status: readiness.isReady ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: ((try? CanonicalJSON.encode(body)) ?? []) + [0x0A])))
        }
    }

    static func application(_ router: Router<BasicRequestContext>, address: HostPort, name: String, logger: Logger) -> some Service {
        var logger = logger
        logger[metadataKey: "listener"] = "\(name)"
        let listenerLogger = logger
        return Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: name),
            onServerRunning: { _ in listenerLogger.info("operations listener up", metadata: ["listen": "\(address)"]) },
            logger: logger)
    }
}

/// The status page's live feed: server-sent events, one `status` event with the whole document whenever its
/// fingerprint changes (checked every `interval`), and a comment line as a keep-alive in between.
public struct StatusFeed: Sendable {
    public var interval: Duration

    public init(interval: Duration = .seconds(1)) {
        self.interval = interval
    }

    func stream(_ cache: StatusCache, to writer: inout any ResponseBodyWriter) async throws {
        var last = ""
        var quiet = 0
        try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let (fingerprint, bytes) = await cache.current()
            if fingerprint != last {
                last = fingerprint
                var buffer = ByteBuffer(string: "event: status\ndata: ")
                buffer.writeBytes(bytes)
                buffer.writeString("\n\n")
                try await writer.write(buffer)
                quiet = 0
            } else {
                quiet += 1
                if quiet >= 15 {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    quiet = 0
                }
            }
            try await Task.sleep(for: interval)
        }
    }
}

/// The status document, built once per change however many pages watch: every feed and `/api/status` asks for
/// the current fingerprint (cheap), and the document is rebuilt only when it differs from the one kept.
final class StatusCache: Sendable {
    let source: OperationsServer.StatusSource
    private let kept = Mutex<(fingerprint: String, bytes: [UInt8])?>(nil)

    init(_ source: OperationsServer.StatusSource) {
        self.source = source
    }

    func current() async -> (fingerprint: String, bytes: [UInt8]) {
        let fingerprint = await source.fingerprint()
        if let kept = kept.withLock({ $0 }), kept.fingerprint == fingerprint { return kept }
        let bytes = (try? CanonicalJSON.encode(await source.document())) ?? []
        kept.withLock { $0 = (fingerprint, bytes) }
        return (fingerprint, bytes)
    }
}
