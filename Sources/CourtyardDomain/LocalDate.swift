import Foundation

/// A calendar date without time zone ("2026-10-01"), read in a community's own zone.
///
/// Move-in dates, effective dates of bindings and billing days are local
/// calendar facts, not instants; storing them as dates avoids off-by-one-day
/// errors at midnight UTC.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    /// Creates a date, or `nil` if it does not exist in the Gregorian calendar.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
              day <= LocalDate.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Reads "YYYY-MM-DD" exactly.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// "YYYY-MM-DD".
    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Days in `month` of `year` (Gregorian leap rules).
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension LocalDate: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = LocalDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected a date as YYYY-MM-DD"))
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A half-open span of local dates during which something holds (a binding, an occupancy).
///
/// `until` is exclusive and `nil` means open-ended, so consecutive periods
/// chain without gaps or overlaps.
public struct EffectivePeriod: Hashable, Sendable {
    public var from: LocalDate
    public var until: LocalDate?

    public init(from: LocalDate, until: LocalDate?) {
        self.from = from
        self.until = until
    }

    /// Whether the period is non-empty (`until` after `from`).
    public var isValid: Bool { until.map { $0 > from } ?? true }

    /// Whether `date` falls inside the period.
    public func contains(_ date: LocalDate) -> Bool {
        date >= from && (until.map { date < $0 } ?? true)
    }

    /// Whether two periods share at least one day.
    public func overlaps(_ other: EffectivePeriod) -> Bool {
        let startsBeforeOtherEnds = other.until.map { from < $0 } ?? true
        let otherStartsBeforeEnd = until.map { other.from < $0 } ?? true
        return startsBeforeOtherEnds && otherStartsBeforeEnd
    }
}

extension LocalDate {
    /// The calendar date of `instant` in the IANA `timeZone` (a community's local day).
    public static func of(_ instant: Date, timeZone: String) -> LocalDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        return LocalDate(year: parts.year!, month: parts.month!, day: parts.day!)!
    }
}
