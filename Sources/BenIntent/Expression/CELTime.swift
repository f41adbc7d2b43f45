import BenCore

/// RFC 3339 timestamps and Go-style durations ("1h30m", "2.5s"), as CEL's timestamp() and duration() read them.
enum CELTime {
    /// Parses `2004-09-16T23:59:59Z`, `2004-09-16T23:59:59.5+02:00` and the like.
    static func parseTimestamp(_ text: String) -> CELTimestamp? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= b.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            i += n
            return v
        }
        func expect(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue! || (c == "T" && b[i] == UInt8(ascii: "t")) || (c == "Z" && b[i] == UInt8(ascii: "z")) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2), expect("T"),
            let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        var nanos: Int64 = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                if count < 9 { nanos = nanos * 10 + Int64(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanos *= 10 }
        }
        var offset: Int64 = 0
        if expect("Z") {
        } else if i < b.count && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(":"), let om = digits(2) else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = CivilCalendar.days(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
        guard seconds >= CELTimestamp.minSeconds && seconds <= CELTimestamp.maxSeconds else { return nil }
        return CELTimestamp(seconds: seconds, nanos: Int32(nanos))
    }

    static func format(_ t: CELTimestamp) -> String {
        let days = t.seconds >= 0 ? t.seconds / 86400 : (t.seconds - 86399) / 86400
        let secondOfDay = t.seconds - days * 86400
        let (y, m, d) = CivilCalendar.date(days: days)
        let pad = CivilCalendar.padded
        var text = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2))"
        if t.nanos > 0 {
            var fraction = pad(Int64(t.nanos), 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// Parses a duration such as `100s`, `1.5h`, `-2m30s`, `250ms`.
    static func parseDuration(_ text: String) -> CELDuration? {
        var b = Substring(text)
        var negative = false
        if b.first == "-" {
            negative = true
            b = b.dropFirst()
        } else if b.first == "+" {
            b = b.dropFirst()
        }
        if b == "0" { return CELDuration(seconds: 0) }
        guard !b.isEmpty else { return nil }
        var totalNanos: Double = 0
        var exact: Int64 = 0
        var useExact = true
        while !b.isEmpty {
            let number = b.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            b = b.dropFirst(number.count)
            let unit = b.prefix { $0.isLetter || $0 == "µ" }
            b = b.dropFirst(unit.count)
            let scale: Int64
            switch unit {
            case "h": scale = 3_600_000_000_000
            case "m": scale = 60_000_000_000
            case "s": scale = 1_000_000_000
            case "ms": scale = 1_000_000
            case "us", "µs": scale = 1000
            case "ns": scale = 1
            default: return nil
            }
            totalNanos += value * Double(scale)
            if useExact, let whole = Int64(number) {
                let (product, o1) = whole.multipliedReportingOverflow(by: scale)
                let (sum, o2) = exact.addingReportingOverflow(product)
                if o1 || o2 { return nil }
                exact = sum
            } else {
                useExact = false
            }
        }
        let nanos: Int64
        if useExact {
            nanos = exact
        } else {
            guard totalNanos.magnitude < 9.2e18 else { return nil }
            nanos = Int64(totalNanos.rounded())
        }
        let signed = negative ? -nanos : nanos
        return CELDuration(seconds: signed / 1_000_000_000, nanos: Int32(signed % 1_000_000_000))
    }

    static func format(_ d: CELDuration) -> String {
        if d.nanos == 0 { return "\(d.seconds)s" }
        let total = Double(d.seconds) + Double(d.nanos) / 1e9
        return "\(total)s"
    }

    static func nanos(_ d: CELDuration) -> (Int64, Bool) {
        let (a, o1) = d.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (b, o2) = a.addingReportingOverflow(Int64(d.nanos))
        return (b, o1 || o2)
    }

    static func duration(nanos: Int64) -> CELDuration {
        CELDuration(seconds: nanos / 1_000_000_000, nanos: Int32(nanos % 1_000_000_000))
    }
}
