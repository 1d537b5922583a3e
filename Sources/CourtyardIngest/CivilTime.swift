import CourtyardDomain
import CourtyardMeterProtocols
import Foundation

/// Calendar arithmetic on wall-clock times without a calendar object: days since 1970-01-01 (proleptic Gregorian),
/// and the conversion of a community's local time to an instant.
enum CivilTime {
    /// Days from 1970-01-01 to the given date (H. Hinnant's days_from_civil).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The wall-clock time read as UTC, in seconds since the epoch.
    static func epochSeconds(_ clock: MeterClock) -> Int64 {
        days(year: clock.year, month: clock.month, day: clock.day) * 86_400
            + Int64(clock.hour * 3600 + clock.minute * 60 + clock.second)
    }

    /// The instant (ms) when it is `clock` in `zone`; in a DST gap or overlap, the offset in force just before.
    static func instant(_ clock: MeterClock, in zone: TimeZone) -> Int64 {
        instant(naiveSeconds: epochSeconds(clock), in: zone)
    }

    /// The instant (ms) of local midnight starting `date` in `zone`. Any date of years 1–9999 works: a billing period or a
    /// binding date is not limited to a meter clock's 2000–2099.
    static func instant(startOf date: LocalDate, in zone: TimeZone) -> Int64 {
        instant(naiveSeconds: days(year: date.year, month: date.month, day: date.day) * 86_400, in: zone)
    }

    private static func instant(naiveSeconds naive: Int64, in zone: TimeZone) -> Int64 {
        let guess = naive - Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(naive))))
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(guess)))
        return (naive - Int64(offset)) * 1000
    }

    /// Seconds east of UTC in `zone` at the instant `milliseconds`.
    static func offset(at milliseconds: Int64, in zone: TimeZone) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000))))
    }
}
