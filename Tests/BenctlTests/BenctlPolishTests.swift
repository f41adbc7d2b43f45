import BenCore
import BenTestKit
import Foundation
import Testing

/// benctl's operator-facing polish (issue 18): contexts, suggestions for typos, counts, the NATS hint, plan JSON by
/// node id, no escape codes off a terminal, --version. Run as the real executable, with its config folder in a
/// temporary directory so nothing here reads or writes the developer's contexts.
@Suite struct BenctlPolishTests {
    let benctl = ProcessRunner.product("benctl")
    let root = ProcessRunner.repositoryRoot()

    func run(_ arguments: [String], config: String? = nil, environment: [String: String] = [:]) async throws -> ProcessRunner.Outcome {
        var env = environment
        env["BEN_CONFIG_DIR"] = config ?? "/nonexistent/ben-config"
        for name in ["BEN_FLEET", "BEN_NATS", "BEN_OPERATOR_KEY", "BEN_CONTEXT", "BEN_NATS_CREDS"] where env[name] == nil { env[name] = "" }
        return try await ProcessRunner.run(benctl, arguments, environment: env, currentDirectory: root)
    }

    @Test(arguments: [
        (["deplyo", "3"], "unknown verb 'deplyo'; did you mean `benctl deploy`?"),
        (["stauts"], "unknown verb 'stauts'; did you mean `benctl status`?"),
        (["topology", "chek", "f.yaml"], "unknown verb 'chek'; did you mean `benctl topology check`?"),
        (["context", "uze", "prod"], "unknown verb 'uze'; did you mean `benctl context use`?"),
        (["status", "--jsn"], "Unknown option '--jsn'. Did you mean '--json'?"),
        (["deploy", "1", "--wiat"], "Unknown option '--wiat'. Did you mean '--wait'?"),
    ])
    func aMistypedVerbOrFlagNamesTheNearestOne(arguments: [String], message: String) async throws {
        let outcome = try await run(arguments)
        #expect(outcome.status == 1)
        #expect(outcome.stderr.hasPrefix("benctl: \(message)\n"), "\(outcome.stderr)")
    }

    @Test func aWordNothingLikeAVerbListsTheVerbs() async throws {
        let outcome = try await run(["xyzzy"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("unknown verb 'xyzzy' for `benctl`; verbs: keygen, hash,"), "\(outcome.stderr)")
    }

    @Test func contextsHoldTheFleetNATSAndKeysAndFlagsStillWin() async throws {
        let dir = try TemporaryDirectory()
        let config = dir.file("config")
        #expect(try await run(["context", "ls"], config: config).stdout.hasPrefix("no contexts yet"))
        #expect(try await run(["keygen", "--out", dir.file("prod.key")]).status == 0)
        let saved = try await ProcessRunner.run(
            benctl, ["context", "save", "prod", "--fleet", "prod", "--nats", "nats://127.0.0.1:1", "--key", "prod.key"],
            environment: ["BEN_CONFIG_DIR": config], currentDirectory: dir.path)
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(
            try await run(["context", "save", "lab", "--fleet", "lab", "--nats", "nats://127.0.0.1:2", "--creds", "/etc/ben/lab.creds", "--use"], config: config)
                .status == 0)
        #expect(try await run(["context", "use", "prod"], config: config).stdout == "using context prod\n")
        let list = try await run(["context", "ls"], config: config).stdout
        #expect(list.contains("  lab  fleet lab  nats nats://127.0.0.1:2") && list.contains("* prod  fleet prod  nats nats://127.0.0.1:1"), "\(list)")
        let shown = try JSONParser.parse(try await run(["context", "show", "--json"], config: config).stdout)
        #expect(shown["fleet"] == "prod")
        #expect(shown["operator_key"] == .string(dir.file("prod.key")), "a relative path is kept absolute")
        #expect(shown["credentials"] == nil)
        #expect(try JSONParser.parse(try await run(["context", "show", "lab", "--json"], config: config).stdout)["credentials"] == "/etc/ben/lab.creds")

        // A verb that talks to the ledger uses the context in use: its NATS URL shows in the error, once hinted.
        let status = try await run(["status"], config: config)
        #expect(status.status == 1)
        #expect(status.stderr.contains("cannot reach NATS at nats://127.0.0.1:1:"), "\(status.stderr)")
        #expect(status.stderr.components(separatedBy: "is nats-server running?").count == 2, "the hint once: \(status.stderr)")
        // --context and BEN_CONTEXT pick another; a flag still wins over both.
        #expect(try await run(["status", "--context", "lab"], config: config).stderr.contains("nats://127.0.0.1:2"))
        #expect(try await run(["status"], config: config, environment: ["BEN_CONTEXT": "lab"]).stderr.contains("nats://127.0.0.1:2"))
        #expect(try await run(["status", "--nats", "nats://127.0.0.1:3"], config: config).stderr.contains("nats://127.0.0.1:3"))
        let typo = try await run(["context", "use", "prd"], config: config)
        #expect(typo.status == 1 && typo.stderr.contains("no context named prd; did you mean prod?"), "\(typo.stderr)")
        #expect(try await run(["context", "rm", "prod"], config: config).status == 0)
        #expect(try await run(["context", "show"], config: config).stderr.contains("no context in use"))
    }

    @Test func planJSONNamesParentsAndBackupsByNodeID() async throws {
        let outcome = try await run(["topology", "plan", "topology/local.yaml", "--json", "--stripes", "2"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let json = try JSONParser.parse(Array(outcome.stdout.utf8))
        let plan = try Plan(json: try #require(json["plan"]))
        let parents = try #require(json["parents"]?.arrayValue)
        #expect(parents.count == 2)
        for (s, stripe) in parents.enumerated() {
            let byNode = try #require(stripe.objectValue)
            #expect(byNode.count == plan.nodes.count)
            for (i, node) in plan.nodes.enumerated() {
                let p = plan.stripes[s][i]
                #expect(byNode[node.id.rawValue] == .string(p == Plan.ledger ? "ledger" : plan.nodes[Int(p)].id.rawValue))
            }
        }
        let backups = try #require(json["backups"]?.objectValue)
        #expect(backups[plan.nodes[0].id.rawValue] == .array(plan.backups[0].map { .string(plan.nodes[Int($0)].id.rawValue) }))
    }

    @Test func countsAreSingularForOne() async throws {
        let dir = try TemporaryDirectory()
        let outcome = try await run(["topology", "plan", "topology/local.yaml", "--stripes", "1", "--no-tree"])
        #expect(outcome.stdout.contains("18 nodes, 1 stripe tree,"), "\(outcome.stdout)")
        let generated = try await run(["topology", "generate", "--regions", "1", "--zones", "1", "--racks", "1", "--nodes", "1", "-o", dir.file("one.yaml")])
        #expect(generated.stderr == "wrote \(dir.file("one.yaml")): 1 node in 1 rack\n", "\(generated.stderr)")
    }

    @Test func noEscapeCodesWhenOutputIsNotATerminal() async throws {
        // Every byte benctl writes here goes to a pipe; deploy --wait's progress bar and friends must stay quiet.
        for arguments in [["--help"], ["deploy", "--help"], ["topology", "plan", "topology/local.yaml"], ["status", "--nats", "nats://127.0.0.1:1", "--fleet", "x"]] {
            let outcome = try await run(arguments, environment: ["TERM": "xterm-256color"])
            #expect(!outcome.stdout.contains("\u{1B}") && !outcome.stderr.contains("\u{1B}") && !outcome.stderr.contains("\r"), "\(arguments)")
        }
    }

    @Test func versionOnEveryExecutable() async throws {
        for executable in ["benctl", "ben-ledger", "ben-agent", "ben-sim", "ben-conformance"] {
            let outcome = try await ProcessRunner.run(ProcessRunner.product(executable), ["--version"])
            #expect(outcome.status == 0 && outcome.stdout == BenRelease.current + "\n", "\(executable): \(outcome.stdout)\(outcome.stderr)")
        }
    }
}
