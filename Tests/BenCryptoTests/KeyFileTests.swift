import BenCrypto
import BenTestKit
import Foundation
import Testing

@Suite struct KeyFileTests {
    @Test func writesTheSeedWithMode0600AndReadsItBack() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("node.key")
        let key = SigningKey.generate()
        try KeyFile.write(key, to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((attributes[.size] as? Int) == 32)
        #expect(try KeyFile.read(path).publicKey == key.publicKey)
    }

    @Test func refusesAGroupOrWorldReadableKeyAndSaysHowToFixIt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("ledger.key")
        try KeyFile.write(SigningKey.generate(), to: path)
        for mode in [0o640, 0o604, 0o660] {
            chmod(path, mode_t(mode))
            #expect {
                try KeyFile.read(path)
            } throws: { error in
                "\(error)".contains("chmod 600 \(path)")
            }
        }
    }

    @Test func neverOverwritesAnExistingKey() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("op.key")
        let first = SigningKey.generate()
        try KeyFile.write(first, to: path)
        #expect(throws: KeyFileError.exists(path: path)) { try KeyFile.write(SigningKey.generate(), to: path) }
        #expect(try KeyFile.read(path).publicKey == first.publicKey)
    }

    @Test func refusesAFileThatIsNotA32ByteSeed() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("short.key")
        _ = FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 31), attributes: [.posixPermissions: 0o600])
        #expect(throws: KeyFileError.malformed(path: path, size: 31)) { try KeyFile.read(path) }
    }
}
