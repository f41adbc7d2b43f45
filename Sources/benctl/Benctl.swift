import ArgumentParser
import BenCore
import Glibc

/// `benctl`, the operator's CLI (DESIGN §2). Each verb is its own file; this file only lists them and maps
/// every failure to one line on stderr and the exit codes scripts rely on (DESIGN §7: 0 success or active,
/// 2 incomplete, 1 any error, including bad flags).
@main
struct Benctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "benctl",
        abstract: "Build, stage, deploy and inspect declared intent across a Ben fleet.",
        discussion: "Shell completions: `benctl --generate-completion-script bash|zsh|fish` (docs/operations.md).",
        version: BenRelease.current,
        subcommands: [
            Keygen.self, Hash.self, Store.self, Build.self, Eval.self, TopologyCommand.self, Stage.self, Versions.self,
            Deploy.self, Activate.self, Rollout.self, Status.self, Members.self, Log.self, Rollback.self, Revoke.self, ContextCommand.self,
            NATSCommand.self,
        ])

    static func main() async {
        if let message = unknownVerb(in: Array(CommandLine.arguments.dropFirst())) {
            FileHandleOutput.standardError("benctl: \(message)\nrun `benctl help` for usage\n")
            Glibc.exit(1)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// A word where a verb belongs that is not one: "unknown verb 'deplo'; did you mean `benctl deploy`?". Options
    /// are left to ArgumentParser, which suggests the nearest flag itself.
    static func unknownVerb(in arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = Benctl.self
        var path = ["benctl"]
        for word in arguments {
            if word.hasPrefix("-") { return nil }
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty else { return nil }
            if let next = subcommands.first(where: { $0._commandName == word || $0.configuration.aliases.contains(word) }) {
                command = next
                path.append(word)
                continue
            }
            if word == "help" { return nil }
            let names = subcommands.map { $0._commandName }
            let where_ = path.joined(separator: " ")
            if let nearest = NearestSpelling.suggestion(for: word, among: names) {
                return "unknown verb '\(word)'; did you mean `\(where_) \(nearest)`?"
            }
            return "unknown verb '\(word)' for `\(where_)`; verbs: \(names.joined(separator: ", "))"
        }
        return nil
    }

    static func exit(withError error: any Error) -> Never {
        if let code = error as? ExitCode {
            Glibc.exit(code.rawValue)
        }
        if let failure = error as? CommandFailure {
            FileHandleOutput.standardError("benctl: \(failure.message)\n")
            Glibc.exit(failure.exitCode)
        }
        let code = exitCode(for: error)
        if code == .success {
            // --help and --version: ArgumentParser's text, on stdout.
            print(fullMessage(for: error))
            Glibc.exit(0)
        }
        let message = fullMessage(for: error)
        let firstLine = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? message
        FileHandleOutput.standardError("benctl: \(firstLine.replacingPrefix("Error: ", with: ""))\n")
        if code.rawValue == 64 {
            FileHandleOutput.standardError("run `benctl help` for usage\n")
        }
        Glibc.exit(1)
    }
}

/// A failure the CLI reports as one line, with the exit code it means.
struct CommandFailure: Error {
    var message: String
    var exitCode: Int32 = 1

    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: any Error) {
        self.message = String(describing: error)
    }
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
