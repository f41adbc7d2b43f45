import ArgumentParser
import BenCore
import BenCrypto

/// Ed25519 verifications per second through BenCrypto, on one core, over the same message shape as the C
/// baseline (Benchmarks/c/sodium_verify.c): a 64-byte message, one key.
struct VerifyRate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify-rate")

    @Option(help: "How long to measure, in seconds.")
    var seconds: Double = 3

    func run() throws {
        let key = SigningKey.generate()
        let message = [UInt8](repeating: 0x5A, count: 64)
        let signature = key.signRaw(message)
        let publicKey = key.publicKey
        let clock = ContinuousClock()
        let start = clock.now
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        var count = 0
        var ok = true
        while clock.now - start < budget {
            for _ in 0..<256 { ok = publicKey.isValidSignature(signature, overRaw: message) && ok }
            count += 256
        }
        let elapsed = clock.now - start
        let perSecond = Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        precondition(ok)
        print("{\"verifications_per_second\": \(Int(perSecond))}")
    }
}
