import Foundation

/// What a NATS credentials file (`NATSSettings.credentialsFile`) holds, and how a connection proves it.
///
/// Two kinds are accepted:
///
/// - **Ben's nkey credentials**, which `benctl nats config` writes for the ledger, each node and each operator: the
///   identity's public nkey on a `# public nkey: U…` line, and its seed in the usual block. The server's
///   configuration names the user by that public nkey; the connection signs the server's nonce with the seed
///   (libnats's `natsOptions_SetNKeyFromSeed`, which reads the seed from the file each time it connects). Such a
///   connection's inboxes are `_INBOX.<public nkey>.…`, so the server can let each identity read only its own replies.
/// - A standard **`.creds` file** (a user JWT and its seed), for servers that run NATS's decentralised (operator and
///   account JWT) authorization: `natsOptions_SetUserCredentialsFromFiles`.
///
/// Either file holds a secret: one that group or others can read or write is refused, as Ben refuses such a key file.
public enum NATSCredentials: Sendable, Hashable {
    /// Ben's nkey credentials: the identity's public nkey (the seed stays in the file).
    case nkey(publicKey: String)
    /// A `.creds` file with a user JWT.
    case userJWT

    /// The line that carries the public nkey in Ben's credentials files.
    public static let publicKeyLabel = "# public nkey: "

    /// The text of Ben's nkey credentials file for one identity: `about` says whose it is (one line, e.g. "node proxy-1
    /// of fleet demo"), `publicKey` and `seed` are the nkey and its encoded seed.
    public static func fileText(about: String, publicKey: String, seed: String) -> String {
        """
        # Ben NATS credentials: \(about). Written by `benctl nats config`.
        # The seed below is this identity's secret: keep the file mode 0600 and give it only to this process.
        \(publicKeyLabel)\(publicKey)
        -----BEGIN USER NKEY SEED-----
        \(seed)
        ------END USER NKEY SEED------

        """
    }

    /// The inbox prefix of a connection authenticated by the nkey `publicKey`: `_INBOX.<publicKey>`.
    public static func inboxPrefix(publicKey: String) -> String { "_INBOX.\(publicKey)" }

    /// Reads and classifies a credentials file.
    ///
    /// - Throws: `NATSError` (`.invalidArgument`) naming the file: unreadable, readable by others, or holding neither
    ///   a user JWT nor a public nkey with its seed.
    public static func read(_ path: String) throws(NATSError) -> NATSCredentials {
        let operation = "read NATS credentials file \(path)"
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw NATSLibrary.invalidArgument(operation, String(cString: strerror(errno)))
        }
        guard info.st_mode & S_IFMT != S_IFDIR else {
            throw NATSLibrary.invalidArgument(operation, "it is a directory; give the credentials file itself")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw NATSLibrary.invalidArgument(
                operation, "it is readable or writable by group or others (mode \(String(mode, radix: 8))); run `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count < 64 << 10 else {
            throw NATSLibrary.invalidArgument(operation, "cannot read it, or it is larger than a credentials file")
        }
        return try classify(String(decoding: data, as: UTF8.self), operation: operation)
    }

    static func classify(_ text: String, operation: String) throws(NATSError) -> NATSCredentials {
        if text.contains("-----BEGIN NATS USER JWT-----") { return .userJWT }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let hasSeed = lines.contains { $0.hasPrefix("SU") }
        let publicKey = lines.first { $0.hasPrefix(publicKeyLabel) }.map { String($0.dropFirst(publicKeyLabel.count)) }
        guard hasSeed else {
            throw NATSLibrary.invalidArgument(operation, "it holds neither a user JWT nor a user nkey seed (SU…)")
        }
        guard let publicKey, publicKey.hasPrefix("U"), publicKey.count == 56, publicKey.utf8.allSatisfy(isBase32) else {
            throw NATSLibrary.invalidArgument(
                operation, "it holds a user nkey seed but not its public nkey on a `\(publicKeyLabel)U…` line; "
                    + "write credentials with `benctl nats config`")
        }
        return .nkey(publicKey: publicKey)
    }

    static func isBase32(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x32 && c <= 0x37) }
}
