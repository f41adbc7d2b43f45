import ArgumentParser
import BenCore
import BenCrypto
import Glibc

extension Benctl {
    /// `benctl hash FILE…`: the key of each file, in `b2sum -l 256`'s output format.
    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the key (BLAKE2b-256) of files, as `b2sum -l 256` does.")

        @Argument(help: "Files to hash; - for standard input.")
        var files: [String]

        func run() throws {
            for file in files {
                let key = try Self.key(ofFile: file)
                print("\(key.hex)  \(file)")
            }
        }

        /// Streams the file through BLAKE2b in 1 MiB reads.
        static func key(ofFile path: String) throws -> Key {
            let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CommandFailure("\(path): cannot open: \(String(cString: strerror(errno)))")
            }
            defer { if fd != 0 { close(fd) } }
            posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
            var hasher = BLAKE2bHasher()
            let size = 1 << 20
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
            defer { buffer.deallocate() }
            while true {
                let n = read(fd, buffer.baseAddress, size)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CommandFailure("\(path): cannot read: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
            return hasher.finalize()
        }
    }
}
