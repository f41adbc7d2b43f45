public import BenCore
import Glibc

/// The shells' wall clock. Pure cores never read a clock; shells read this one and pass `Timestamp`s in.
public enum SystemClock {
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    /// How long until `deadline` on the wall clock (zero if it has passed).
    public static func delay(until deadline: Timestamp) -> Duration {
        max(.zero, deadline - now())
    }
}
