/// Link and uplink speeds, written in topology files as `10Gbit`, `25 Gbit/s`, `100Mbps` or `1.25GB/s`.
///
/// Stored as whole bits per second so that equal speeds compare and hash equal, and so the canonical form
/// (`10000000000bit/s`) is exact.
public struct Bandwidth: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let bitsPerSecond: Int64

    public init?(bitsPerSecond: Int64) {
        guard bitsPerSecond >= 1 else { return nil }
        self.bitsPerSecond = bitsPerSecond
    }

    public var bytesPerSecond: Double { Double(bitsPerSecond) / 8 }

    /// The largest speed a file may state: 1 Pbit/s.
    static let limit: Double = 1e15

    /// Parses a speed with its unit; nil for anything else (a bare number is refused: bits or bytes?).
    public init?(parsing text: String) {
        guard let (number, unit) = splitQuantity(text) else { return nil }
        let factor: Double
        switch unit {
        case "bit", "bit/s", "bps", "b/s": factor = 1
        case "kbit", "kbit/s", "kbps", "Kbit", "Kbit/s", "Kbps": factor = 1e3
        case "Mbit", "Mbit/s", "Mbps": factor = 1e6
        case "Gbit", "Gbit/s", "Gbps": factor = 1e9
        case "Tbit", "Tbit/s", "Tbps": factor = 1e12
        case "B/s": factor = 8
        case "kB/s", "KB/s": factor = 8e3
        case "MB/s": factor = 8e6
        case "GB/s": factor = 8e9
        case "KiB/s": factor = 8 * 1024
        case "MiB/s": factor = 8 * 1024 * 1024
        case "GiB/s": factor = 8 * 1024 * 1024 * 1024
        default: return nil
        }
        let bits = (number * factor).rounded()
        guard bits >= 1, bits <= Self.limit else { return nil }
        self.bitsPerSecond = Int64(bits)
    }

    /// `10000000000bit/s`: the exact form used in canonical JSON; it parses back to the same value.
    public var canonical: String { "\(bitsPerSecond)bit/s" }

    /// `10 Gbit/s`, `2.5 Gbit/s`, `800 Mbit/s`: for people.
    public var description: String {
        let units: [(Double, String)] = [(1e12, "Tbit/s"), (1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")]
        let value = Double(bitsPerSecond)
        for (scale, name) in units where value >= scale {
            return "\(formatDecimal(value / scale)) \(name)"
        }
        return "\(bitsPerSecond) bit/s"
    }

    public static func < (a: Self, b: Self) -> Bool { a.bitsPerSecond < b.bitsPerSecond }

    public static let rule = "a number and a unit such as 10Gbit, 25 Gbit/s, 100Mbps or 1.25GB/s"
}

/// One-way latency of a link, written as `50us`, `0.5ms`, `30ms` or `1s`; stored in whole nanoseconds.
public struct Latency: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let nanoseconds: Int64

    public init?(nanoseconds: Int64) {
        guard nanoseconds >= 0, nanoseconds <= 60_000_000_000 else { return nil }
        self.nanoseconds = nanoseconds
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public init?(parsing text: String) {
        guard let (number, unit) = splitQuantity(text) else { return nil }
        let factor: Double
        switch unit {
        case "ns": factor = 1
        case "us", "µs": factor = 1e3
        case "ms": factor = 1e6
        case "s": factor = 1e9
        default: return nil
        }
        let ns = (number * factor).rounded()
        guard ns >= 0, ns <= 60e9 else { return nil }
        self.nanoseconds = Int64(ns)
    }

    public var canonical: String { "\(nanoseconds)ns" }

    public var description: String { formatSeconds(seconds) }

    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    public static let rule = "a number and a unit such as 50us, 0.5ms, 30ms or 1s (at most 60s)"
}

/// Byte counts written as `1MiB`, `64 MiB`, `512KiB`, `1GB` or a plain number of bytes.
public enum ByteSize {
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces
        if let plain = Int64(trimmed), plain >= 0 { return plain }
        guard let (number, unit) = splitQuantity(trimmed) else { return nil }
        let factor: Double
        switch unit {
        case "B": factor = 1
        case "KiB": factor = 1024
        case "MiB": factor = 1024 * 1024
        case "GiB": factor = 1024 * 1024 * 1024
        case "TiB": factor = 1024 * 1024 * 1024 * 1024
        case "kB", "KB": factor = 1e3
        case "MB": factor = 1e6
        case "GB": factor = 1e9
        case "TB": factor = 1e12
        default: return nil
        }
        let bytes = (number * factor).rounded()
        guard bytes >= 0, bytes <= 9e15 else { return nil }
        return Int64(bytes)
    }

    /// `64 MiB`, `1.5 GiB`, `512 KiB`, `100 B`: for people.
    public static func format(_ bytes: Int64) -> String {
        let units: [(Double, String)] = [(1_099_511_627_776, "TiB"), (1_073_741_824, "GiB"), (1_048_576, "MiB"), (1024, "KiB")]
        let value = Double(bytes)
        for (scale, name) in units where value >= scale {
            return "\(formatDecimal(value / scale)) \(name)"
        }
        return "\(bytes) B"
    }

    public static let rule = "a size such as 1MiB, 512KiB or a number of bytes"
}

/// Splits `12.5 Gbit/s` into (12.5, "Gbit/s"). The number is plain decimal: digits with at most one point.
func splitQuantity(_ text: String) -> (Double, String)? {
    let s = text.trimmingSpaces
    var end = s.startIndex
    var sawDigit = false
    var sawPoint = false
    while end < s.endIndex {
        let c = s[end]
        if c.isASCII && c.isNumber {
            sawDigit = true
        } else if c == "." && !sawPoint {
            sawPoint = true
        } else {
            break
        }
        end = s.index(after: end)
    }
    guard sawDigit, let number = Double(s[..<end]), number.isFinite else { return nil }
    let unit = String(s[end...]).trimmingSpaces
    guard !unit.isEmpty else { return nil }
    return (number, unit)
}

/// A decimal with at most two places and no trailing zeros: 10, 2.5, 1.25.
func formatDecimal(_ value: Double) -> String {
    let hundredths = (value * 100).rounded()
    let whole = Int64(hundredths / 100)
    let fraction = Int64(hundredths) - whole * 100
    if fraction == 0 { return "\(whole)" }
    if fraction % 10 == 0 { return "\(whole).\(fraction / 10)" }
    return fraction < 10 ? "\(whole).0\(fraction)" : "\(whole).\(fraction)"
}

/// Seconds for people: `850 µs`, `12.5 ms`, `1.2 s`.
public func formatSeconds(_ seconds: Double) -> String {
    if seconds == 0 { return "0 s" }
    if seconds < 1e-3 { return "\(formatDecimal(seconds * 1e6)) µs" }
    if seconds < 1 { return "\(formatDecimal(seconds * 1e3)) ms" }
    return "\(formatDecimal(seconds)) s"
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
