import ArgumentParser
import BenCore
import BenCrypto

extension Benctl {
    /// `benctl keygen --out FILE`: a new Ed25519 key for an operator, the ledger or a node.
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate an Ed25519 key: writes the 32-byte seed (mode 0600) and FILE.pub (hex public key).")

        @Option(name: .long, help: "Where to write the private key file. It must not exist yet.")
        var out: String

        @OptionGroup var output: OutputOptions

        func run() throws {
            let key = SigningKey.generate()
            do {
                try KeyFile.write(key, to: out)
                try TextFile.writeAtomically(key.publicKey.hex + "\n", to: out + ".pub", mode: 0o644)
            } catch {
                throw CommandFailure(error)
            }
            try output.show(["file": .string(out), "public_key": .string(key.publicKey.hex), "keyid": .string(key.keyID)]) {
                print("wrote \(out) (private, mode 0600) and \(out).pub")
                print("public key: \(key.publicKey.hex)")
                print("keyid:      \(key.keyID)")
            }
        }
    }
}
