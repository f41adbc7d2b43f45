import BenCore
import BenCrypto
import BenTestKit
import Foundation
import Testing

/// Issue 15, item 6, against the real executables: `ben-agent`'s and `ben-ledger`'s key-file errors are one line and
/// exit 1, never a usage error (exit 64 with the usage), and a directory given as a key file is named as a directory.
@Suite struct DaemonKeyFileTests {
    /// Every option of a daemon but its key, so only the key can be wrong.
    func daemonArguments(_ daemon: String, folder: TemporaryDirectory) -> [String] {
        let other = SigningKey.generate().publicKey.hex
        if daemon == "ben-agent" {
            return [
                "--node", "n1", "--fleet", "f", "--roles", "proxy", "--listen", "127.0.0.1:1", "--ledger-key", other, "--state",
                folder.file("state"), "--nats", "nats://127.0.0.1:1",
            ]
        }
        return ["--fleet", "f", "--data", folder.file("data"), "--operator-key", other, "--nats", "nats://127.0.0.1:1"]
    }

    @Test(arguments: ["ben-agent", "ben-ledger"])
    func aDirectoryGivenAsTheKeyIsNamedAsADirectory(daemon: String) async throws {
        let folder = try TemporaryDirectory(prefix: "ben-key")
        try FileManager.default.createDirectory(atPath: folder.file("etc-ben"), withIntermediateDirectories: true)
        let outcome = try await ProcessRunner.run(
            ProcessRunner.product(daemon), daemonArguments(daemon, folder: folder) + ["--key", folder.file("etc-ben")])
        #expect(outcome.status == 1, "\(daemon): \(outcome.status) \(outcome.stderr)")
        #expect(outcome.stderr == "Error: --key \(folder.file("etc-ben")): is a directory; give the key file itself\n", "\(outcome.stderr)")
    }

    @Test(arguments: ["ben-agent", "ben-ledger"])
    func keyFileErrorsAreOneLineAndExit1NotUsage(daemon: String) async throws {
        let folder = try TemporaryDirectory(prefix: "ben-key")
        let open = folder.file("open.key")
        try KeyFile.write(SigningKey.generate(), to: open)
        chmod(open, 0o644)
        try Data(repeating: 7, count: 12).write(to: URL(fileURLWithPath: folder.file("short.key")))
        chmod(folder.file("short.key"), 0o600)
        let cases: [(String, String)] = [
            (open, "--key \(open): key file is readable or writable by group or others (mode 644); run `chmod 600 \(open)`"),
            (folder.file("missing.key"), "--key \(folder.file("missing.key")): cannot open: No such file or directory"),
            (folder.file("short.key"), "--key \(folder.file("short.key")): a key file holds exactly a 32-byte Ed25519 seed, this one has 12 bytes"),
        ]
        for (path, message) in cases {
            let outcome = try await ProcessRunner.run(ProcessRunner.product(daemon), daemonArguments(daemon, folder: folder) + ["--key", path])
            #expect(outcome.status == 1, "\(daemon) \(path): \(outcome.status) \(outcome.stderr)")
            #expect(outcome.stderr.hasPrefix("Error: \(message)"), "\(daemon): \(outcome.stderr)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "\(daemon): \(outcome.stderr)")
            #expect(!outcome.stderr.contains("Usage:"), "\(daemon): \(outcome.stderr)")
        }
    }

    @Test(arguments: [("ben-agent", "--ledger-key"), ("ben-ledger", "--operator-key")])
    func aDirectoryGivenAsATrustedKeyIsNamedAsADirectory(daemon: String, option: String) async throws {
        let folder = try TemporaryDirectory(prefix: "ben-key")
        try KeyFile.write(SigningKey.generate(), to: folder.file("own.key"))
        try FileManager.default.createDirectory(atPath: folder.file("keys"), withIntermediateDirectories: true)
        var arguments = daemonArguments(daemon, folder: folder) + ["--key", folder.file("own.key")]
        let index = try #require(arguments.firstIndex(of: option))
        arguments[index + 1] = folder.file("keys")
        let outcome = try await ProcessRunner.run(ProcessRunner.product(daemon), arguments)
        #expect(outcome.status == 1, "\(daemon): \(outcome.status) \(outcome.stderr)")
        #expect(outcome.stderr == "Error: \(option) \(folder.file("keys")): is a directory; give the key file itself\n", "\(outcome.stderr)")
    }
}
