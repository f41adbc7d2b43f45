import ArgumentParser

/// Measurements that `Benchmarks/run.sh` sets beside a baseline measured in the same run. Each subcommand
/// prints one JSON object of figures on stdout.
@main
struct BenBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-bench",
        abstract: "Ben's in-process measurements for make bench.",
        subcommands: [
            VerifyRate.self, NATSRoundTrip.self, TopologyFigures.self, IntentEval.self, IntentSwap.self, IntentCompile.self,
            AckVerify.self, LedgerAPIRoundTrip.self,
        ])
}
