import BenCore
public import BenCrypto
import Glibc

/// Reads a public key given on a command line: 64 hex digits, or a file holding them (`benctl keygen` writes
/// `FILE.pub`).
public enum PublicKeyArgument {
    public static func read(_ text: String, option: String) throws -> PublicKey {
        if let key = PublicKey(hex: text) { return key }
        let fd = open(text, O_RDONLY)
        guard fd >= 0 else {
            throw PublicKeyArgumentError(message: "\(option) \(text): neither 64 hex digits nor a readable file")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 256) }
        let content = String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self).trimmingCharacters(in: [" ", "\n", "\r", "\t"])
        guard let key = PublicKey(hex: content) else {
            throw PublicKeyArgumentError(message: "\(option) \(text): the file does not hold a public key (64 hex digits)")
        }
        return key
    }
}

public struct PublicKeyArgumentError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var s = Substring(self)
        while let first = s.first, set.contains(first) { s.removeFirst() }
        while let last = s.last, set.contains(last) { s.removeLast() }
        return String(s)
    }
}
