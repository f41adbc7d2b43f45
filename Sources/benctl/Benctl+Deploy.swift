import ArgumentParser
import BenCore
import Glibc

extension Benctl {
    /// `benctl deploy V`: the only thing that starts a rollout (DESIGN §3 step 3).
    struct Deploy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll a staged version out to the fleet. With --wait, follow it to the end.",
            discussion: "Exit codes with --wait: 0 active (every required node's signed ack verified), 2 incomplete, 1 error.")

        @Argument(help: "The version to deploy (as `benctl versions` shows it, with or without the v).")
        var version: String

        @OptionGroup var rollout: RolloutOptions

        @OptionGroup(title: "Rollout control: two-phase activation, waves and gates") var control: RolloutControlOptions

        @Flag(name: .long, help: "Announce an incomplete version again to the nodes still missing.")
        var retry = false

        @Flag(name: .long, help: "Abandon a rollout in progress for this one.")
        var supersede = false

        @OptionGroup(title: "Which nodes (default: the whole fleet)") var selector: SelectorOptions

        @Option(name: .long, help: "Fix the number of stripe trees k (default: the topology's, or the planner's choice).")
        var stripes: Int?

        @Flag(name: .long, help: "Send the bundle from the ledger to every node directly (a star), to compare with the tree.")
        var star = false

        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let v = try VersionArgument.parse(version)
            var args = rollout.args
            args.merge(["version": .int(Int64(v.rawValue)), "retry": .bool(retry), "supersede": .bool(supersede)]) { $1 }
            if let stripes { args["stripes"] = .int(Int64(stripes)) }
            if star { args["shape"] = "star" }
            // Checked here first (roles always; nodes and locations against --topology or the ledger's topology),
            // and again by the ledger: an unknown name is an error, never dropped.
            try selector.checkLocally()
            if retry && !selector.isEmpty {
                throw CommandFailure(
                    "--retry announces again to every node whose ack is missing and takes no --roles, --nodes or --locations; nothing was done")
            }
            args.merge(selector.args) { $1 }
            if retry && control.isRollout { throw CommandFailure("--retry takes no --prepare, --two-phase, --policy or --wave; nothing was done") }
            args.merge(try control.args()) { $1 }
            let code = try await ledger.withClient { client in
                _ = try await selector.check(with: client)
                let answer = try await client.call("deploy", args: .object(args))
                if !output.json {
                    let excluded = answer["excluded"]?.arrayValue ?? []
                    print(
                        "deploying v\(v.rawValue) to \(counted(answer["targets"]?.intValue ?? 0, "node")): "
                            + "\(counted(answer["stripes"]?.intValue ?? 0, "stripe tree")), depth \(answer["depth"]?.intValue ?? 0), "
                            + "deadline \(answer["deadline"]?.stringValue ?? "?")")
                    if !excluded.isEmpty { print("  left out of the plan: \(excluded.compactMap(\.stringValue).joined(separator: ", "))") }
                    if let plan = answer["rollout"] { print(RolloutControlOptions.describe(plan)) }
                }
                let retrying = (answer["retrying"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { NodeID($0) } }
                if retry && !output.json {
                    print("  retrying \(retrying.count) missing \(retrying.count == 1 ? "node" : "nodes"): \(retrying.map(\.rawValue).joined(separator: ", "))")
                }
                if control.watch { return try await RolloutWatch.follow(v, client: client, json: output.json, untilPrepared: control.prepare) }
                guard let code = try await rollout.follow(v, answer: answer, client: client, output: output, untilPrepared: control.prepare) else {
                    return Int32(0)
                }
                if retry && !retrying.isEmpty && !output.json { try await Self.printRetried(v, nodes: retrying, client: client) }
                return code
            }
            if code != 0 { throw ExitCode(code) }
        }

        /// Polls the status with a progress bar until the version is active (exit 0) or incomplete, aborted or
        /// superseded (exit 2); with `untilPrepared` (`--prepare`), until every target has prepared (exit 0).
        static func follow(_ version: Version, client: LedgerClient, json: Bool, untilPrepared: Bool = false) async throws -> Int32 {
            var bar: ProgressBar?
            while true {
                let status = try DeploymentStatus(json: try await client.call("status", args: ["version": .int(Int64(version.rawValue))]))
                if bar == nil { bar = ProgressBar("v\(version.rawValue)", total: Int64(status.required)) }
                bar?.update(Int64(status.active), detail: "\(status.active)/\(status.required) active\(status.refused > 0 ? ", \(status.refused) refused" : "")")
                let prepared = untilPrepared && status.rollout?.step == "prepared"
                if status.status != "deploying" || prepared {
                    bar?.finish()
                    if json { print(try CanonicalJSON.string(status.json)) } else { StatusView.print(status) }
                    return prepared ? 0 : RolloutWatch.exitCode(status.status)
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}

extension Benctl.Deploy {
    /// What happened to each node a `--retry` went to: it answered again (it already ran the version and its
    /// ack had been lost), activated now, refused, or is still missing and why.
    static func printRetried(_ version: Version, nodes: [NodeID], client: LedgerClient) async throws {
        let args: JSONValue = ["version": .int(Int64(version.rawValue)), "nodes": .array(nodes.map { .string($0.rawValue) })]
        let status = try DeploymentStatus(json: try await client.call("status", args: args))
        print("retried nodes:")
        for answer in status.answers {
            let what: String
            switch answer.status {
            case "active":
                if let at = answer.at, let issued = status.issuedAt, at < issued {
                    what = "answered again (it already ran v\(version.rawValue); its ack had not reached the ledger)"
                } else {
                    what = "activated"
                }
            case "refused": what = "refused: \(answer.reason)"
            default: what = "still missing: \(answer.reason)"
            }
            print("  \(answer.node): \(what)")
        }
    }
}

/// `--wait` and `--timeout`: how `deploy` and `rollback` follow the rollout they start.
struct RolloutOptions: ParsableArguments {
    @Flag(name: .long, help: "Follow the rollout with a progress bar until it is active (exit 0) or incomplete (exit 2).")
    var wait = false

    @Option(name: .long, help: "Deadline in seconds from now (default: the ledger's).")
    var timeout: Int?

    /// The request's `timeout_s`, when `--timeout` was given.
    var args: [String: JSONValue] { timeout.map { ["timeout_s": .int(Int64($0))] } ?? [:] }

    /// Without `--wait`, prints the ledger's answer (with `--json`) and leaves the rollout to the ledger: nil. With
    /// it, follows `version` to the end and returns the exit code (0 active, 2 incomplete or aborted); with
    /// `untilPrepared` (`deploy --prepare`), until every target has prepared.
    func follow(
        _ version: Version, answer: JSONValue, client: LedgerClient, output: OutputOptions, untilPrepared: Bool = false
    ) async throws -> Int32? {
        guard wait else {
            if output.json { print(try CanonicalJSON.string(answer)) }
            return nil
        }
        return try await Benctl.Deploy.follow(version, client: client, json: output.json, untilPrepared: untilPrepared)
    }
}

enum VersionArgument {
    static func parse(_ text: String) throws -> Version {
        let digits = text.hasPrefix("v") ? String(text.dropFirst()) : text
        guard let n = UInt64(digits), n > 0 else { throw CommandFailure("\(text) is not a version; versions look like 3 or v3") }
        return Version(n)
    }
}
