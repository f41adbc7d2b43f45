import ArgumentParser
import BenNATS
import Foundation

/// Request/reply round trip through BenNATS, the path of every benctl → ledger API call, with libnats's
/// SendAsap on (Ben's default) and off (libnats's default, where the flusher thread batches the reply).
///
/// For each setting, a replier and a requester connection (both with that setting) talk through the same
/// nats-server; requests are sent one at a time, as benctl sends them, and each round trip is timed.
struct NATSRoundTrip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nats-rtt", abstract: "Request/reply round-trip latency, SendAsap on and off.")

    @Option(help: "NATS server URL; when absent, a nats-server is started on a free loopback port.")
    var url: String?

    @Option(help: "Timed requests per setting.")
    var count = 20_000

    @Option(help: "Untimed requests first, per setting.")
    var warmup = 2_000

    @Option(help: "Payload bytes in each request and reply.")
    var payloadBytes = 128

    func run() async throws {
        let server = url == nil ? try LocalNATSServer() : nil
        let target = url ?? server!.url
        var figures: [String: [String: Double]] = [:]
        for sendAsap in [true, false] {
            figures[sendAsap ? "send_asap_on" : "send_asap_off"] = try await measure(url: target, sendAsap: sendAsap)
        }
        server?.stop()
        let json: [String: Any] = ["requests": count, "payload_bytes": payloadBytes].merging(figures) { $1 }
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func measure(url: String, sendAsap: Bool) async throws -> [String: Double] {
        var settings = NATSSettings()
        settings.sendAsap = sendAsap
        settings.name = "ben-bench"
        let replier = try await NATSConnection.connect(to: url, settings: settings)
        let requester = try await NATSConnection.connect(to: url, settings: settings)
        let subject = "ben.bench.api.rtt"
        let subscription = try await replier.subscribe(subject: subject)
        let responder = Task {
            for await request in subscription { try? await request.respond(request.payload) }
        }
        try await replier.flush()

        let payload = [UInt8](repeating: 0x42, count: payloadBytes)
        for _ in 0..<warmup { _ = try await requester.request(payload, subject: subject) }
        let clock = ContinuousClock()
        var samples: [Duration] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = clock.now
            _ = try await requester.request(payload, subject: subject)
            samples.append(clock.now - start)
        }
        responder.cancel()
        await requester.close()
        await replier.close()

        let micros = samples.map { Double($0.components.seconds) * 1e6 + Double($0.components.attoseconds) / 1e12 }
            .sorted()
        func percentile(_ p: Double) -> Double { micros[min(micros.count - 1, Int(Double(micros.count) * p))] }
        let mean = micros.reduce(0, +) / Double(micros.count)
        return [
            "p50_us": round(percentile(0.50) * 10) / 10, "p99_us": round(percentile(0.99) * 10) / 10,
            "mean_us": round(mean * 10) / 10,
        ]
    }
}

/// A nats-server on a free loopback port for the length of the measurement (no JetStream needed).
final class LocalNATSServer {
    let process = Process()
    let url: String
    private let logURL: URL

    init() throws {
        let candidates =
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map {
                "\($0)/nats-server"
            } + ["/usr/sbin/nats-server", "/usr/local/sbin/nats-server"]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ValidationError("nats-server not found (run `make deps`), or pass --url")
        }
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("ben-bench-nats-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-a", "127.0.0.1", "-p", "-1"]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        var address: String?
        var text = ""
        while address == nil && process.isRunning && Date() < deadline {
            text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if text.contains("Server is ready"), let range = text.range(of: "Listening for client connections on ") {
                address = String(text[range.upperBound...].prefix { $0 != "\n" })
            } else {
                usleep(10_000)
            }
        }
        url = "nats://\(address ?? "")"
        if address == nil {
            stop()
            throw ValidationError("nats-server did not start:\n\(text)")
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: logURL)
    }
}
