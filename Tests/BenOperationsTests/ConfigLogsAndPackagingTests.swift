import BenCore
import BenCrypto
import BenMetrics
import BenOperations
import BenTestKit
import BenTopology
import Foundation
import Logging
import Testing

/// Config files, rate spellings and JSON log lines (issue 18), checked without a fleet.
@Suite struct ConfigAndLogTests {
    static let known = ["fleet", "nats", "seed_listen", "operator_key", "timeout"]

    @Test func aFlagWinsOverTheFileAndTheFileOverTheDefault() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("ledger.yaml")
        try "fleet: prod\nseed_listen: 10.0.0.5:7400\noperator_key: [a.pub, b.pub]\nnats: nats://a:4222, nats://b:4222\ntimeout: 45\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try await DaemonSettings.load(file: file, flags: ["seed_listen": .string("127.0.0.1:7400")], known: Self.known)
        #expect(settings.string("fleet") == "prod")
        #expect(settings.string("seed_listen") == "127.0.0.1:7400")
        #expect(settings.list("operator_key") == ["a.pub", "b.pub"])
        #expect(settings.list("nats") == ["nats://a:4222", "nats://b:4222"], "a list may be one comma-separated string")
        #expect(try settings.int("timeout", default: 120) == 45)
        #expect(try settings.int("silent_after", default: 90) == 90)
    }

    @Test func aJSONFileReadsTheSame() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("ledger.json")
        try #"{"fleet": "prod", "timeout": 45, "operator_key": ["a.pub"]}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try await DaemonSettings.load(file: file, flags: [:], known: Self.known)
        #expect(settings.string("fleet") == "prod")
        #expect(try settings.int("timeout", default: 1) == 45)
        #expect(settings.list("operator_key") == ["a.pub"])
    }

    @Test func anUnknownKeyNamesTheNearestKnownOne() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("ledger.yaml")
        try "fleet: prod\nseed_lisen: 10.0.0.5:7400\n".write(toFile: file, atomically: true, encoding: .utf8)
        await #expect {
            _ = try await DaemonSettings.load(file: file, flags: [:], known: Self.known)
        } throws: { error in
            "\(error)".hasPrefix("\(file): seed_lisen: unknown key (did you mean seed_listen?)")
        }
    }

    @Test func anAliasBombConfigFileIsRefusedBeforeSwiftConfigurationExpandsIt() async throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("ledger.yaml")
        try ("fleet: prod\n" + HostileYAML.billionLaughs(under: "nats")).write(toFile: file, atomically: true, encoding: .utf8)
        await #expect {
            _ = try await DaemonSettings.load(file: file, flags: [:], known: Self.known)
        } throws: { error in
            "\(error)".hasPrefix("\(file): line ") && "\(error)".contains("alias bomb?")
        }
    }

    @Test func aMissingSettingNamesTheFlagAndTheKey() async throws {
        let settings = try await DaemonSettings.load(file: nil, flags: [:], known: Self.known)
        #expect(throws: OperationsError.self) { try settings.required("fleet") }
        do { _ = try settings.required("seed_listen") } catch {
            #expect(error.description == "--seed-listen is required: pass it, or set seed_listen in a config file (--config FILE)")
        }
    }

    @Test func theDaemonsRefuseABadConfigFileAndARateTheTopologyFileWouldRefuse() async throws {
        let dir = try TemporaryDirectory()
        try KeyFile.write(SigningKey.generate(), to: dir.file("node.key"))
        try "node: n1\nfleet: f\nroles: [proxy]\nlistn: 127.0.0.1:1\n".write(toFile: dir.file("agent.yaml"), atomically: true, encoding: .utf8)
        let bad = try await ProcessRunner.run(ProcessRunner.product("ben-agent"), ["--config", dir.file("agent.yaml")])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("listn: unknown key (did you mean listen?)"), "\(bad.stderr)")
        // `12.5MB` is not a rate in a topology file (bytes, or bytes per second?), so not on the command line either.
        let key = SigningKey.generate().publicKey.hex
        let common = ["--node", "n1", "--fleet", "f", "--roles", "proxy", "--key", dir.file("node.key"), "--listen", "127.0.0.1:1",
                      "--ledger-key", key, "--state", dir.file("state")]
        let rate = try await ProcessRunner.run(ProcessRunner.product("ben-agent"), common + ["--upload-limit", "12.5MB"])
        #expect(rate.status != 0)
        #expect(rate.stderr.contains("--upload-limit: '12.5MB' is not \(Bandwidth.rule)"), "\(rate.stderr)")
        // On/off settings take on or off (or true/false, yes/no) and name themselves otherwise.
        for (flag, daemon) in [("--gossip", "ben-agent"), ("--link-encryption", "ben-agent")] {
            let switched = try await ProcessRunner.run(ProcessRunner.product(daemon), common + [flag, "maybe"])
            #expect(switched.status != 0)
            #expect(switched.stderr.contains("\(flag): expected on or off, not 'maybe'"), "\(switched.stderr)")
        }
    }

    /// The spellings `--upload-limit` takes are the topology file's `uplink` spellings, read by the same parser.
    @Test(arguments: [
        ("100Mbit", 12_500_000.0), ("1Gbit/s", 125_000_000.0), ("25 Gbit/s", 3_125_000_000.0), ("100Mbps", 12_500_000.0),
        ("12.5MB/s", 12_500_000.0), ("64KiB/s", 65_536.0),
    ])
    func ratesAreSpeltAsInTopologyFiles(text: String, bytesPerSecond: Double) throws {
        #expect(Bandwidth(parsing: text)?.bytesPerSecond == bytesPerSecond)
        let yaml = try String(contentsOfFile: ProcessRunner.repositoryRoot() + "/topology/local.yaml", encoding: .utf8)
        let edited = yaml.replacingOccurrences(of: "  uplink: 10Gbit", with: "  uplink: \(text)")
        #expect(edited != yaml)
        #expect(Topology.read(yaml: edited, file: "t.yaml").topology?.defaults.uplink.bytesPerSecond == bytesPerSecond)
    }

    @Test func aJSONLogLineCarriesTheDocumentedKeys() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("log")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd) }
        var logger = Logger(label: "ben-agent") { JSONLogHandler(label: $0, sink: LineSink(fd: fd)) }
        logger[metadataKey: "ben.fleet"] = "prod"
        logger[metadataKey: "ben.node"] = "proxy-1"
        logger.info(
            "ack sent",
            metadata: ["ben.version": "v3", "peer.node": "relay-2", "stripe": "0", "reason": "a \"quoted\"\nreason", "via": "link"])
        let line = try String(contentsOfFile: path, encoding: .utf8)
        #expect(line.hasSuffix("}\n") && line.split(separator: "\n").count == 1)
        #expect(line.hasPrefix("{\"ts\":\""))
        let object = try JSONParser.parse(line)
        #expect(object["level"] == "info" && object["msg"] == "ack sent" && object["logger"] == "ben-agent")
        #expect(object["fleet"] == "prod" && object["node"] == "proxy-1" && object["version"] == "v3")
        #expect(object["peer"] == "relay-2" && object["stripe"] == "0" && object["reason"] == "a \"quoted\"\nreason")
        #expect(object["via"] == "link")
        #expect(object["ben.fleet"] == nil, "renamed, not repeated")
    }

    @Test(arguments: [
        ("deplo", "deploy"), ("stauts", "status"), ("rollbakc", "rollback"), ("seed_lisen", "seed_listen"), ("versoins", "versions"),
    ])
    func theNearestSpelling(typed: String, meant: String) {
        let words = ["deploy", "status", "rollback", "versions", "seed_listen", "stage", "store"]
        #expect(NearestSpelling.suggestion(for: typed, among: words) == meant)
    }

    @Test func nothingIsSuggestedForAWordFarFromEveryCandidate() {
        #expect(NearestSpelling.suggestion(for: "xyzzy", among: ["deploy", "status"]) == nil)
    }
}

/// docs/operations.md lists every metric, and the Grafana dashboard graphs only metrics that exist.
@Suite struct MetricDocsTests {
    @Test func operationsGuideListsEveryMetricAndTheDashboardOnlyKnownOnes() throws {
        let root = ProcessRunner.repositoryRoot()
        let guide = try String(contentsOfFile: root + "/docs/operations.md", encoding: .utf8)
        for metric in Metric.allCases {
            #expect(guide.contains("| `\(metric.rawValue)` | \(metric.kind.rawValue) |"), "docs/operations.md lacks \(metric.rawValue)")
        }
        let dashboard = try JSONParser.parse(try String(contentsOfFile: root + "/docs/grafana-dashboard.json", encoding: .utf8))
        let exprs = (dashboard["panels"]?.arrayValue ?? []).flatMap { $0["targets"]?.arrayValue ?? [] }.compactMap { $0["expr"]?.stringValue }
        #expect(exprs.count >= 15)
        let known = Set(Metric.allCases.map(\.rawValue))
        var graphed = Set<String>()
        for expr in exprs {
            for match in expr.matches(of: /ben_[a-z_]+/) {
                let name = String(match.output).replacing(/_(bucket|sum|count)$/, with: "")
                #expect(known.contains(name), "the dashboard graphs \(name), which Ben does not report")
                graphed.insert(name)
            }
        }
        #expect(known.subtracting(graphed).subtracting(["ben_build_info"]).isEmpty, "not graphed: \(known.subtracting(graphed).sorted())")
    }
}

/// `make install`'s files, and the systemd units checked by systemd itself where it is installed.
@Suite struct PackagingTests {
    static var systemdAnalyze: String? { ProcessRunner.which("systemd-analyze") }

    @Test func installPutsExecutablesCompletionsUnitsAndDocsUnderThePrefix() async throws {
        let dir = try TemporaryDirectory()
        let prefix = dir.file("prefix")
        let root = ProcessRunner.repositoryRoot()
        let outcome = try await ProcessRunner.run(
            root + "/packaging/install.sh", ["--from", ProcessRunner.productsDirectory, "--prefix", prefix])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let files = FileManager.default
        for exe in ["benctl", "ben-ledger", "ben-agent", "ben-sim"] {
            #expect(files.isExecutableFile(atPath: "\(prefix)/bin/\(exe)"))
            let bash = (try? String(contentsOfFile: "\(prefix)/share/bash-completion/completions/\(exe)", encoding: .utf8)) ?? ""
            #expect(bash.contains("complete") && bash.contains(exe), "\(exe)'s bash completion")
            #expect(files.fileExists(atPath: "\(prefix)/share/zsh/site-functions/_\(exe)"))
            #expect(files.fileExists(atPath: "\(prefix)/share/fish/vendor_completions.d/\(exe).fish"))
        }
        let benctlBash = try String(contentsOfFile: "\(prefix)/share/bash-completion/completions/benctl", encoding: .utf8)
        #expect(benctlBash.contains("context") && benctlBash.contains("deploy"), "the completion knows the verbs")
        for doc in ["operations.md", "grafana-dashboard.json", "examples/ledger.yaml", "examples/agent.yaml"] {
            #expect(files.fileExists(atPath: "\(prefix)/share/doc/ben/\(doc)"), "\(doc)")
        }
        for unit in ["ben-ledger", "ben-agent"] {
            let text = try String(contentsOfFile: "\(prefix)/lib/systemd/system/\(unit).service", encoding: .utf8)
            #expect(text.contains("ExecStart=\(prefix)/bin/\(unit) --config /etc/ben/"), "\(unit): the unit runs the installed binary")
            for directive in [
                "User=\(unit)", "StateDirectory=\(unit)", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
                "CapabilityBoundingSet=\n", "LoadCredential=", "PrivateTmp=yes", "SystemCallFilter=@system-service",
            ] {
                #expect(text.contains(directive), "\(unit) lacks \(directive)")
            }
        }
        #expect(try String(contentsOfFile: "\(prefix)/lib/sysusers.d/ben.conf", encoding: .utf8).contains("u ben-agent"))
        // The example configs are what the daemons read: every key is known and every value valid, so the only thing
        // missing is the key the unit passes itself.
        for (daemon, example) in [("ben-ledger", "ledger.yaml"), ("ben-agent", "agent.yaml")] {
            let check = try await ProcessRunner.run(ProcessRunner.product(daemon), ["--config", "\(prefix)/share/doc/ben/examples/\(example)"])
            #expect(check.status != 0 && check.stderr.contains("--key is required"), "\(daemon): \(check.stderr)")
        }
    }

    @Test
    func systemdVerifiesTheUnitsAndRatesThemWellHardened() async throws {
        let systemdAnalyze = try #require(Self.systemdAnalyze, "systemd-analyze is not installed; Debian's systemd package has it")
        let dir = try TemporaryDirectory()
        let prefix = dir.file("prefix")
        let root = ProcessRunner.repositoryRoot()
        _ = try await ProcessRunner.run(root + "/packaging/install.sh", ["--from", ProcessRunner.productsDirectory, "--prefix", prefix])
        for unit in ["ben-ledger", "ben-agent"] {
            let path = "\(prefix)/lib/systemd/system/\(unit).service"
            let verify = try await ProcessRunner.run(systemdAnalyze, ["verify", path])
            #expect(verify.status == 0 && verify.stderr.isEmpty && verify.stdout.isEmpty, "\(unit): \(verify.stdout)\(verify.stderr)")
            let security = try await ProcessRunner.run(systemdAnalyze, ["security", "--offline=yes", "--no-pager", path])
            let exposure = security.stdout.firstMatch(of: /Overall exposure level for [^:]+: ([0-9.]+)/).flatMap { Double($0.1) }
            #expect(exposure.map { $0 < 2.0 } == true, "\(unit): \(security.stdout.suffix(300))")
            print("\(unit).service: systemd-analyze verify passes; exposure \(exposure.map { "\($0)" } ?? "?") (0 = safest, 10 = unsafe)")
        }
    }
}
