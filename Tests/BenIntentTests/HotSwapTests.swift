import BenCore
import BenIntent
import Synchronization
import Testing

/// Readers evaluate continuously while a writer swaps between two versions: every result comes from exactly
/// one version.
@Suite struct HotSwapTests {
    @Test func tenThousandSwapsUnderConcurrentReadersGiveZeroTornReads() async throws {
        let files = try ExampleIntent.files()
        // v1 denies the export request by rule limit_bulk_export; v2 raises the limit and the default allows it.
        let v1 = try CompiledIntent.compile(try ExampleIntent.bundle(files), roles: [.proxy], label: "v1")
        let v2Files = ExampleIntent.replacing(files, in: "policies/edge.yaml", "1000000u", with: "10000000u")
        let v2 = try CompiledIntent.compile(try ExampleIntent.bundle(v2Files), roles: [.proxy], label: "v2")
        let request = try ExampleIntent.request("proxy-export.json")
        let expected: [String: (PolicyAction, String?)] = ["v1": (.deny, "limit_bulk_export"), "v2": (.allow, nil)]

        let active = ActiveIntent(v1)
        let swaps = 10_000
        let done = ManagedFlag()
        let results = try await withThrowingTaskGroup(of: (reads: Int, torn: Int, seen: Set<String>).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var reads = 0
                    var torn = 0
                    var seen: Set<String> = []
                    while !done.isSet || reads < 100 {
                        let intent = active.intent
                        let decision = intent.proxy.decide(request)
                        guard let want = expected[decision.version] else {
                            torn += 1
                            continue
                        }
                        if decision.version != intent.label || decision.action != want.0 || decision.rule != want.1 { torn += 1 }
                        seen.insert(decision.version)
                        reads += 1
                        // The pool has as many threads as cores; readers yield so the writer gets its turn.
                        if reads % 16 == 0 { await Task.yield() }
                    }
                    return (reads, torn, seen)
                }
            }
            group.addTask {
                for i in 0..<swaps {
                    active.swap(to: i % 2 == 0 ? v2 : v1)
                    if i % 8 == 0 { await Task.yield() }
                }
                done.set()
                return (0, 0, [])
            }
            var all: [(reads: Int, torn: Int, seen: Set<String>)] = []
            for try await r in group { all.append(r) }
            return all
        }
        let readers = results.filter { $0.reads > 0 }
        #expect(readers.count == 4)
        #expect(readers.reduce(0) { $0 + $1.torn } == 0)
        #expect(readers.reduce(0) { $0 + $1.reads } >= 400)
        #expect(readers.reduce(into: Set<String>()) { $0.formUnion($1.seen) } == ["v1", "v2"], "readers saw both versions")
        #expect(active.intent.label == "v1", "an even number of swaps ends where it began")
    }
}

/// A flag the writer raises when it is done, read by the readers without locks.
final class ManagedFlag: Sendable {
    private let state = Synchronization.Atomic<Bool>(false)
    var isSet: Bool { state.load(ordering: .acquiring) }
    func set() { state.store(true, ordering: .releasing) }
}
