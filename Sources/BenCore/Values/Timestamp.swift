/// A point in time, in whole milliseconds since the Unix epoch, UTC.
///
/// Pure cores never read a clock; the shells pass `Timestamp`s in. On the wire a timestamp is RFC 3339 text
/// in UTC with millisecond precision (`2026-11-27T02:31:13.000Z`), which people and every JSON tool can read.
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Milliseconds since 1970-01-01T00:00:00Z; negative before it.
    public var millisecondsSinceEpoch: Int64

    /// The instant `millisecondsSinceEpoch` milliseconds after the epoch.
    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    /// Earlier instants are smaller.
    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        a.millisecondsSinceEpoch < b.millisecondsSinceEpoch
    }

    /// The instant `d` after `t`; `d` counts in whole milliseconds, truncated toward zero.
    public static func + (t: Timestamp, d: Duration) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: t.millisecondsSinceEpoch + d.milliseconds)
    }

    /// The instant `d` before `t`; `d` counts in whole milliseconds, truncated toward zero.
    public static func - (t: Timestamp, d: Duration) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: t.millisecondsSinceEpoch - d.milliseconds)
    }

    /// How long after `b` `a` is, in whole milliseconds; negative when `a` is earlier.
    public static func - (a: Timestamp, b: Timestamp) -> Duration {
        .milliseconds(a.millisecondsSinceEpoch - b.millisecondsSinceEpoch)
    }

    /// RFC 3339 text, always UTC, always with three fractional digits.
    public var rfc3339: String {
        let ms = millisecondsSinceEpoch
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let msOfDay = ms - days * 86_400_000
        let (year, month, day) = CivilCalendar.date(days: days)
        let pad = CivilCalendar.padded
        let hour = msOfDay / 3_600_000
        let minute = msOfDay / 60_000 % 60
        let second = msOfDay / 1000 % 60
        let milli = msOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))."
            + "\(pad(milli, 3))Z"
    }

    /// Parses RFC 3339 text with a `Z` or numeric offset and up to nanosecond fractions (kept to the
    /// millisecond). nil for anything else.
    public init?(rfc3339 text: String) {
        let c = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= c.count else { return nil }
            var v: Int64 = 0
            for i in from..<from + count {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c[i]) else { return nil }
                v = v * 10 + Int64(c[i] - UInt8(ascii: "0"))
            }
            return v
        }
        guard c.count >= 20, c[4] == UInt8(ascii: "-"), c[7] == UInt8(ascii: "-"),
            c[10] == UInt8(ascii: "T") || c[10] == UInt8(ascii: "t"), c[13] == UInt8(ascii: ":"),
            c[16] == UInt8(ascii: ":"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var milli: Int64 = 0
        if i < c.count && c[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < c.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c[i]) {
                if digits < 3 { milli = milli * 10 + Int64(c[i] - UInt8(ascii: "0")) }
                digits += 1
                i += 1
            }
            guard digits > 0 && digits <= 9 else { return nil }
            for _ in digits..<3 where digits < 3 { milli *= 10 }
        }
        var offsetMinutes: Int64 = 0
        guard i < c.count else { return nil }
        if c[i] == UInt8(ascii: "Z") || c[i] == UInt8(ascii: "z") {
            i += 1
        } else if c[i] == UInt8(ascii: "+") || c[i] == UInt8(ascii: "-") {
            guard let oh = number(i + 1, 2), i + 3 < c.count, c[i + 3] == UInt8(ascii: ":"),
                let om = number(i + 4, 2), oh < 24, om < 60
            else { return nil }
            offsetMinutes = (oh * 60 + om) * (c[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == c.count else { return nil }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        self.init(millisecondsSinceEpoch: seconds * 1000 + milli)
    }
}

extension Timestamp: CustomStringConvertible {
    /// The RFC 3339 text (`rfc3339`).
    public var description: String { rfc3339 }

    /// The time of day, UTC, to the second ("12:03:07"), for summaries where the date is plain.
    public var clockTime: String {
        let text = rfc3339
        let t = text.index(after: text.firstIndex(of: "T")!)
        return String(text[t..<text.index(t, offsetBy: 8)])
    }
}

extension Duration {
    /// Seconds to one decimal ("2.4 s"), for what operators read.
    public var secondsText: String {
        let tenths = (milliseconds + 50) / 100
        return "\(tenths / 10).\(abs(tenths % 10)) s"
    }

    /// Whole milliseconds, truncated toward zero.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
