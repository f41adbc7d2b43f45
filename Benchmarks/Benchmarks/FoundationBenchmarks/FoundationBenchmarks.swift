import BenCore
import BenCrypto
import Benchmark

/// Micro-benchmarks of the foundation: hashing, signing, verifying and canonical encoding.
let benchmarks: @Sendable () -> Void = {
    let chunk = [UInt8](repeating: 0xA5, count: 1 << 20)
    Benchmark("BLAKE2b-256 of a 1 MiB chunk", configuration: .init(metrics: [.throughput, .wallClock])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(BLAKE2b.key(of: chunk)) }
    }

    let key = SigningKey.generate()
    let ack = Ack(
        fleet: FleetName("bench")!, version: 42, node: "proxy-0001", manifest: BLAKE2b.key(of: chunk), status: .active,
        reason: "", at: Timestamp(millisecondsSinceEpoch: 1_795_000_000_000))
    let envelope = key.envelope(ack, context: .ack)
    let trusted = TrustedKeys([key.publicKey])
    let bytes = envelope.canonicalBytes

    Benchmark("Ack: canonical bytes", configuration: .init(metrics: [.throughput, .wallClock, .mallocCountTotal])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ack.canonicalBytes) }
    }
    Benchmark("Ack: sign", configuration: .init(metrics: [.throughput, .wallClock])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(key.envelope(ack, context: .ack)) }
    }
    Benchmark("Ack: parse, verify and read a signed ack", configuration: .init(metrics: [.throughput, .wallClock])) { benchmark in
        for _ in benchmark.scaledIterations {
            let parsed = try SignedEnvelope.decode(bytes, document: "ack", maxBytes: Ack.maxBytes)
            blackHole(try parsed.open(Ack.self, context: .ack, trusted: trusted))
        }
    }
}
