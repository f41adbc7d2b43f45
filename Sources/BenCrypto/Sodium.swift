import CSodium

/// libsodium must be initialised once before any other call; `sodium_init` is thread-safe and idempotent, and
/// a lazy static makes the first use anywhere do it.
enum Sodium {
    static let ready: Bool = {
        let result = sodium_init()
        precondition(result >= 0, "libsodium failed to initialise (sodium_init returned \(result))")
        return true
    }()

    @inline(__always) static func ensure() { _ = ready }
}
