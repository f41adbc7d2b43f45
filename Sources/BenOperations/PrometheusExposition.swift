public import BenMetrics
import CoreMetrics
import Prometheus

/// swift-metrics' backend for a Ben process: swift-prometheus, with Ben's histogram buckets, rendered with the
/// `# HELP` lines of `Metric`'s catalogue.
///
/// swift-metrics can be bootstrapped once per process, so `bootstrap` is called once, by the executable, only when
/// `--metrics-listen` is given; until then every metric is a no-op.
public final class PrometheusExposition: Sendable {
    /// The content type of the text exposition format, version 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let registry: PrometheusCollectorRegistry

    /// Makes the registry, installs it as the process's metrics backend, and declares every series `process`
    /// reports (at zero).
    public static func bootstrap(process: Metric.Reporter, release: String) -> PrometheusExposition {
        let exposition = PrometheusExposition()
        MetricsSystem.bootstrap(exposition.factory)
        Metric.buildInfo.set(1, ["version": release, "process": process.rawValue])
        Metric.declareAll(for: process)
        return exposition
    }

    init() {
        registry = PrometheusCollectorRegistry()
    }

    var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        for metric in Metric.allCases where metric.kind == .histogram {
            factory.durationHistogramBuckets[metric.rawValue] = metric.buckets
        }
        return factory
    }

    /// The exposition: every metric reported so far, each with its `# HELP` line from the catalogue.
    public func render() -> [UInt8] {
        Self.withHelp(registry.emitToString())
    }

    /// Puts a `# HELP name …` line before each `# TYPE name …` line whose name the catalogue knows (swift-metrics
    /// has no place for help text, and swift-prometheus refuses two help texts for one name, so it is added here).
    static func withHelp(_ text: String) -> [UInt8] {
        let help = Dictionary(uniqueKeysWithValues: Metric.allCases.map { ($0.rawValue, $0.help) })
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 4096)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).prefix { $0 != " " }
                if let text = help[String(name)] { out += Array("# HELP \(name) \(text)\n".utf8) }
            }
            out += Array(line.utf8)
            out.append(0x0A)
        }
        while out.count >= 2 && out[out.count - 1] == 0x0A && out[out.count - 2] == 0x0A { out.removeLast() }
        return out
    }
}
