import BenCore
import BenStore
import BenTestKit
import Foundation
import Testing

/// `benctl build` and `benctl eval`, run as the real executable on the repository's examples.
@Suite struct BenctlIntentTests {
    let benctl = ProcessRunner.product("benctl")
    let examples = ProcessRunner.repositoryRoot() + "/examples"

    func copyExamples(to dir: TemporaryDirectory) throws -> String {
        let target = dir.file("intent")
        try FileManager.default.copyItem(atPath: examples + "/intent", toPath: target)
        return target
    }

    func manifestKey(_ outcome: ProcessRunner.Outcome) -> String? {
        outcome.stdout.split(separator: "\n").first { $0.hasPrefix("manifest ") }.map { String($0.dropFirst("manifest ".count)) }
    }

    @Test func buildWritesAStoreAndPrintsTheTableAndTheManifestKey() async throws {
        let dir = try TemporaryDirectory()
        let out = dir.file("bundle")
        let first = try await ProcessRunner.run(benctl, ["build", examples + "/intent", "-o", out])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("ARTIFACT"))
        #expect(first.stdout.contains("policy_pack/edge"))
        let key = try #require(manifestKey(first).flatMap { Key(hex: $0) })
        let stored = try String(contentsOfFile: out + "/manifest.key", encoding: .utf8)
        #expect(stored == key.hex + "\n")
        let store = try ChunkStore(root: out)
        let manifest = try #require(try store.manifest(key))
        #expect(manifest.artifacts.count == 9)
        #expect(manifest.artifacts.first { $0.name == "policy_pack/edge" }?.roles == [.proxy])
        for artifact in manifest.artifacts { _ = try store.artifactBytes(artifact) }

        // Again, into the same folder: same key, and the folder is replaced whole.
        let second = try await ProcessRunner.run(benctl, ["build", examples + "/intent", "-o", out, "--json"])
        #expect(second.status == 0)
        let json = try JSONParser.parse(second.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(json["manifest"]?.stringValue == key.hex)
        // Nothing is left beside it: the old bundle set aside and the new one's temporary folder are gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["bundle"])
        #expect(try ChunkStore(root: out).manifest(key) != nil)

        // A folder that is not a bundle is never replaced.
        let other = dir.file("notes")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: false)
        try "keep me\n".write(toFile: other + "/todo.txt", atomically: true, encoding: .utf8)
        let refused = try await ProcessRunner.run(benctl, ["build", examples + "/intent", "-o", other])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(other) exists and is not a Ben bundle; choose another -o or remove it"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: other) == ["todo.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["bundle", "notes"])
    }

    @Test func aCommentOrWhitespaceEditKeepsTheManifestKey() async throws {
        let dir = try TemporaryDirectory()
        let source = try copyExamples(to: dir)
        let before = try await ProcessRunner.run(benctl, ["build", source, "-o", dir.file("a")])
        let path = source + "/policies/edge.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try ("# edited for review\n\n" + text.replacingOccurrences(of: "  - name: plain_http", with: "\n\n  - name:   plain_http   # redirect"))
            .write(toFile: path, atomically: true, encoding: .utf8)
        let after = try await ProcessRunner.run(benctl, ["build", source, "-o", dir.file("b")])
        #expect(before.status == 0 && after.status == 0, "\(before.stderr)\(after.stderr)")
        #expect(manifestKey(before) != nil)
        #expect(manifestKey(before) == manifestKey(after))
    }

    @Test func anInvalidSourceReportsEveryErrorSortedExitsOneAndWritesNothing() async throws {
        let dir = try TemporaryDirectory()
        let source = try copyExamples(to: dir)
        let path = source + "/policies/edge.yaml"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "request.port == 80", with: "request.port == \"80\"")
        text = text.replacingOccurrences(of: "on_error: deny", with: "on_error: deny\nowner: platform")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try "kind: schema\nname: [broken\n".write(toFile: source + "/schemas/broken.yaml", atomically: true, encoding: .utf8)
        let out = dir.file("bundle")
        let outcome = try await ProcessRunner.run(benctl, ["build", source, "-o", out])
        #expect(outcome.status == 1)
        let lines = outcome.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(outcome.stderr)")
        #expect(lines[0] == "\(source)/policies/edge.yaml:8:1: owner: unknown key `owner`; expected one of default, description, input, kind, name, on_error, roles, rules")
        #expect(lines[1].hasPrefix("\(source)/policies/edge.yaml:34:24: rules[5].when: '==' compares int with string"))
        #expect(lines[2].hasPrefix("\(source)/schemas/broken.yaml:3:1: YAML syntax"))
        #expect(lines[3] == "benctl: 3 problems in \(source); nothing was written")
        #expect(!FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("bundle") }
        #expect(leftovers.isEmpty)
    }

    @Test func evalShowsTheDecisionAndTheRuleForEachRole() async throws {
        let dir = try TemporaryDirectory()
        let out = dir.file("bundle")
        #expect(try await ProcessRunner.run(benctl, ["build", examples + "/intent", "-o", out]).status == 0)
        let proxy = try await ProcessRunner.run(benctl, ["eval", "--bundle", out, "--role", "proxy", "--input", examples + "/requests/proxy-export.json"])
        #expect(proxy.status == 0, "\(proxy.stderr)")
        #expect(proxy.stdout.hasPrefix("decision: deny\n  because: pack edge, rule limit_bulk_export matched\n"))

        let json = try await ProcessRunner.run(benctl, ["eval", "--bundle", out, "--role", "proxy", "--input", examples + "/requests/proxy-api.json", "--json"])
        let decision = try JSONParser.parse(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(decision["decision"]?["target"]?.stringValue == "api-backend")
        #expect(decision["rule"]?.stringValue == "api_to_backend")

        let migrate = try await ProcessRunner.run(benctl, ["eval", "--bundle", out, "--role", "data_migrator", "--input", examples + "/requests/migrate-order-v1.json"])
        #expect(migrate.stdout.hasPrefix("migrated order v1 → v2 by order_v1_to_v2\n"))
        #expect(migrate.stdout.contains(#""amount_cents":4250"#))

        let detector = try await ProcessRunner.run(benctl, ["eval", "--bundle", out, "--role", "detector", "--input", examples + "/requests/detector-login.json"])
        #expect(detector.stdout.contains("[critical] auth_anomalies/service_account_interactive"))

        let spine = try await ProcessRunner.run(benctl, ["eval", "--bundle", out, "--role", "spine", "--input", examples + "/requests/spine-order.json"])
        #expect(spine.stdout.hasPrefix("record: valid order@2\ndecision: allow"))
    }

    @Test func evalOnAMissingBundleIsOneLineAndExitOne() async throws {
        let outcome = try await ProcessRunner.run(benctl, ["eval", "--bundle", "/nonexistent", "--role", "proxy", "--input", "/dev/null"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.hasPrefix("benctl: /nonexistent: no manifest.key"))
    }
}
