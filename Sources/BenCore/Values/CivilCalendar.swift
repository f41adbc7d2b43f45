/// Proleptic Gregorian dates and days since the Unix epoch, both ways (Howard Hinnant's algorithms), exact for
/// every year RFC 3339 can write (0000 to 9999). `Timestamp` and CEL's timestamps both count days with them.
public enum CivilCalendar {
    /// The day `year-month-day` falls on, counted from 1970-01-01 (day 0; earlier days are negative). `month` is
    /// 1 to 12 and `day` 1 to 31; a day past the month's end counts on into the next month.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day counted from 1970-01-01: the inverse of `days(year:month:day:)`.
    public static func date(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `value` in decimal with zeros on the left to at least `width` digits, as dates and times are written
    /// (`0007`, `09`).
    public static func padded(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
