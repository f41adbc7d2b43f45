import BenCore
import BenTestKit
import Foundation
import Testing

/// `ben-sim` itself: run writes its outputs and shows progress, replay repeats a seed's trace, a bad scenario
/// exits 1 naming file, line and field.
@Suite struct BenSimCommandTests {
    static let binary = ProcessRunner.product("ben-sim")

    @Test
    func runAndReplay() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-sim-cli")
        let scenario = folder.file("small.yaml")
        try SimFixtures.small.write(toFile: scenario, atomically: true, encoding: .utf8)
        let run = try await ProcessRunner.run(
            Self.binary, ["run", scenario, "--report", folder.file("r.html"), "--json", folder.file("r.json"), "--csv", folder.file("r.csv")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("[1/"), "no progress shown: \(run.stderr)")
        #expect(run.stdout.contains("ben-tree") && run.stdout.contains("invariants: all hold"), "\(run.stdout)")
        for name in ["r.html", "r.json", "r.csv"] { #expect(FileManager.default.fileExists(atPath: folder.file(name)), "\(name)") }
        let json = try JSONParser.parse(String(contentsOfFile: folder.file("r.json"), encoding: .utf8))
        let digest = try #require(json["protocol"]?["trace_digest"]?.stringValue)

        var traces: [String] = []
        for i in 0..<2 {
            let replay = try await ProcessRunner.run(Self.binary, ["replay", "11", "--scenario", scenario, "--trace", folder.file("t\(i).txt")])
            #expect(replay.status == 0, "\(replay.stderr)")
            #expect(replay.stdout.contains(String(digest.prefix(16))), "replay's trace differs from the run's: \(replay.stdout)")
            traces.append(try String(contentsOfFile: folder.file("t\(i).txt"), encoding: .utf8))
        }
        #expect(!traces[0].isEmpty && traces[0] == traces[1])

        let bad = folder.file("bad.yaml")
        try SimFixtures.small.replacingOccurrences(of: "seed: 11", with: "seed: eleven").write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try await ProcessRunner.run(Self.binary, ["run", bad])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("\(bad):4: seed:"), "\(failed.stderr)")
    }

    @Test
    func outputsGoIntoNewFoldersAndABadOutputPathFailsBeforeTheRun() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-sim-out")
        let scenario = folder.file("small.yaml")
        try SimFixtures.small.write(toFile: scenario, atomically: true, encoding: .utf8)
        let nested = folder.file("reports/today/r.json")
        let run = try await ProcessRunner.run(Self.binary, ["run", scenario, "--no-protocol", "--json", nested])
        #expect(run.status == 0, "\(run.stderr)")
        let written = try String(contentsOfFile: nested, encoding: .utf8)
        #expect(written.hasPrefix("{") && written.hasSuffix("}\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("reports/today")) == ["r.json"], "a temporary file was left")

        // A path below a regular file can never be written: refused at once, before any planning, nothing left.
        let blocked = folder.file("small.yaml/r.html")
        let refused = try await ProcessRunner.run(Self.binary, ["run", scenario, "--report", blocked])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains(blocked) && refused.stderr.contains("check the path"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("planning"), "the run started before the output was checked: \(refused.stderr)")
        #expect(refused.stdout.isEmpty)
    }
}
