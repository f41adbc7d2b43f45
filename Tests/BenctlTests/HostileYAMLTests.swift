import BenCore
import BenCrypto
import BenTestKit
import Foundation
import Testing

/// Issue 15, item 6, against the real executables: every YAML reader (intent files in `benctl build`, topology
/// files in `benctl topology check`, scenarios in `ben-sim run`, config files in the daemons) refuses an alias bomb,
/// an alias key and deep nesting with one line and exit 1, quickly and in little memory.
@Suite struct HostileYAMLTests {
    let root = ProcessRunner.repositoryRoot()

    /// Runs an executable under a memory cap and a time limit, so a reader that does expand the bomb fails the test
    /// (killed, exit 124 or out of memory) instead of taking the machine with it.
    func bounded(_ executable: String, _ arguments: [String], in folder: String) async throws -> ProcessRunner.Outcome {
        let quoted = ([ProcessRunner.product(executable)] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try await ProcessRunner.run(
            "/bin/sh", ["-c", "ulimit -v 3000000; exec timeout 60 \(quoted)"],
            environment: ["BEN_CONFIG_DIR": folder + "/benctl-config"], currentDirectory: folder)
    }

    func expectOneLine(_ outcome: ProcessRunner.Outcome, _ mentions: String, _ what: String) {
        #expect(outcome.status == 1, "\(what): exit \(outcome.status) (124: still expanding after 60 s), \(outcome.stderr)")
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(what): \(outcome.stderr)")
        #expect(outcome.stderr.contains(mentions), "\(what): \(outcome.stderr)")
        #expect(!outcome.stderr.contains("Usage:"), "\(what): \(outcome.stderr)")
    }

    static let hostile: [(String, String, String)] = [
        ("an alias bomb", HostileYAML.billionLaughs(), "alias bomb?"),
        ("an alias key", HostileYAML.keyBomb, "a mapping key here is a list, a mapping or an alias"),
        ("deep nesting", "kind: schema\nname: " + HostileYAML.nested(200), "nests deeper than 64 levels"),
    ]

    /// The named test for the issue's 496-byte alias bomb. Before the budget, `benctl build` grew past 600 MB in 20 s
    /// on the billion laughs without a word (this test: exit 124 or killed for memory).
    @Test(arguments: hostile)
    func benctlBuildRefusesAnAliasBombInOneLine(what: String, text: String, mentions: String) async throws {
        let folder = try TemporaryDirectory(prefix: "ben-bomb")
        try FileManager.default.createDirectory(atPath: folder.file("intent/policies"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: root + "/examples/intent/schemas", toPath: folder.file("intent/schemas"))
        try text.write(toFile: folder.file("intent/policies/bomb.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await bounded("benctl", ["build", folder.file("intent"), "-o", folder.file("out")], in: folder.path)
        // `benctl build` lists every problem, then counts them: here one line names the file, and the count is 1.
        #expect(outcome.status == 1, "\(what): exit \(outcome.status) (124: still expanding after 60 s), \(outcome.stderr)")
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("bomb.yaml:") && lines[0].contains(mentions), "\(what): \(outcome.stderr)")
        #expect(lines.last == "benctl: 1 problem in \(folder.file("intent")); nothing was written", "\(what): \(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.file("out")), "nothing is written")
    }

    @Test(arguments: hostile)
    func benctlTopologyCheckRefusesAnAliasBombInOneLine(what: String, text: String, mentions: String) async throws {
        let folder = try TemporaryDirectory(prefix: "ben-bomb")
        try text.write(toFile: folder.file("topology.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await bounded("benctl", ["topology", "check", folder.file("topology.yaml")], in: folder.path)
        #expect(outcome.status == 1, "\(what): \(outcome.status) \(outcome.stderr)")
        // `topology check` lists every problem and then counts them: here there is one.
        #expect(outcome.stderr.contains(mentions) || outcome.stdout.contains(mentions), "\(what): \(outcome.stdout)\(outcome.stderr)")
        #expect(!(outcome.stdout + outcome.stderr).contains("problems"), "\(what): one problem, not many")
    }

    @Test(arguments: hostile)
    func benSimRefusesAnAliasBombScenarioInOneLine(what: String, text: String, mentions: String) async throws {
        let folder = try TemporaryDirectory(prefix: "ben-bomb")
        try text.write(toFile: folder.file("scenario.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await bounded("ben-sim", ["run", folder.file("scenario.yaml")], in: folder.path)
        expectOneLine(outcome, mentions, what)
    }

    @Test func aDaemonRefusesAnAliasBombConfigFile() async throws {
        let folder = try TemporaryDirectory(prefix: "ben-bomb")
        try ("fleet: f\n" + HostileYAML.billionLaughs(under: "nats")).write(toFile: folder.file("agent.yaml"), atomically: true, encoding: .utf8)
        let outcome = try await bounded("ben-agent", ["--config", folder.file("agent.yaml")], in: folder.path)
        #expect(outcome.status != 0 && outcome.status != 124, "\(outcome.status) \(outcome.stderr)")
        #expect(outcome.stderr.contains("alias bomb?"), "\(outcome.stderr)")
    }
}
