import BenCore
import BenCrypto
import BenIntent
import BenNATS
import BenProtocol
import Glibc
import Logging
import Synchronization

/// Two-phase activation and the alert gate, on the agent's side (issue 17): the ledger's signed activations over
/// NATS, the precise swap time the activation-spread benchmark reads, and the alerts its detectors raise.
extension AgentService {
    /// `ben.<fleet>.activate`: the ledger's signed activations. Each is read, its signature checked against the
    /// trusted ledger keys (context `ben/activate/v1`), and handed to the machine, which decides.
    func followActivations(_ connection: NATSConnection) async {
        await serve(NATSSubjects.activate(configuration.fleet), on: connection, "follow activations") { message in
            if let incoming = readActivation(message.payload) { handle(.activation(incoming)) }
        }
    }

    /// `ben.<fleet>.node.<id>.announce`: a rollout wave's announcement, sent to this node by name (waves before the
    /// last are not announced to the fleet). Read and decided exactly as one from the fleet's stream.
    func followWaveAnnouncements(_ connection: NATSConnection) async {
        await serve(NATSSubjects.nodeAnnounce(configuration.fleet, node: configuration.node), on: connection, "follow wave announcements") {
            announce($0.payload, fleetWide: false)
        }
    }

    /// Reads a signed activation envelope and checks its signature against the trusted ledger keys.
    func readActivation(_ bytes: [UInt8]) -> IncomingActivation? {
        readSigned(bytes, as: Activation.self, context: .activate)
    }

    /// Logs the two-phase reports with their metadata. The swap's line carries the wall-clock instant of the swap in
    /// microseconds (`swapped_at_us`, this node's clock, read right after the pointer exchange): the activation-spread
    /// benchmark takes the latest minus the earliest across the fleet.
    func observeTwoPhase(_ report: PeerReport) -> Bool {
        switch report {
        case .swappedAtBarrier(let version, let barrier, let late):
            logger.info(
                "swapped at the barrier",
                metadata: [
                    "ben.version": "\(version)", "barrier": "\(barrier.rfc3339)", "late_ms": "\(late.milliseconds)",
                    "swapped_at_us": "\(Self.wallMicroseconds() + configuration.clockOffset.milliseconds * 1000)",
                ])
        case .activationAccepted(let version, let barrier):
            logger.info("activation accepted", metadata: ["ben.version": "\(version)", "barrier": "\(barrier.rfc3339)"])
        case .prepared(let version):
            logger.info("prepared", metadata: ["ben.version": "\(version)"])
        default:
            logger.notice("\(report)")
        }
        return true
    }

    static func wallMicroseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }

    /// A detector evaluation raised alerts under `version`: counted for the heartbeat, which goes out soon.
    nonisolated func countAlerts(_ report: EvaluationReport, version: Version) {
        let raised = report.json["alerts"]?.arrayValue?.count ?? 0
        guard raised > 0 else { return }
        alerts.add(raised, for: version)
        heartbeatTrigger.yield()
    }
}

/// Alerts raised by the detectors of each version this node served, for heartbeats. Shared between the actor and
/// the query handler, which runs off it.
final class AlertCounter: Sendable {
    private let counts = Mutex<[Version: Int]>([:])

    func add(_ n: Int, for version: Version) {
        counts.withLock { $0[version, default: 0] += n }
    }

    func count(for version: Version) -> Int {
        counts.withLock { $0[version] ?? 0 }
    }
}
