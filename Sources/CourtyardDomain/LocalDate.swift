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
            day <= LocalDate.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// A date its caller has already proved valid (the first of a month of a year in range); no check, no trap.
    init(unchecked year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Reads "YYYY-MM-DD" exactly.
    public init?(_ text: some StringProtocol) {
        // Byte by byte: stored rows carry dates in every house and occupancy, and splitting the text showed in bill-run profiles.
        var digits = (0, 0, 0)
        var count = 0
        for byte in text.utf8 {
            switch count {
            case 4, 7:
                guard byte == UInt8(ascii: "-") else { return nil }
            case 0..<10:
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                let digit = Int(byte &- UInt8(ascii: "0"))
                if count < 4 {
                    digits.0 = digits.0 * 10 + digit
                } else if count < 7 {
                    digits.1 = digits.1 * 10 + digit
                } else {
                    digits.2 = digits.2 * 10 + digit
                }
            default:
                return nil
            }
            count += 1
        }
        guard count == 10 else { return nil }
        self.init(year: digits.0, month: digits.1, day: digits.2)
    }

    /// "YYYY-MM-DD".
    public var description: String {
        // Digit by digit into the string's own storage (bills write three dates per row). The initializer keeps the year
        // within 1...9999 (and the month and day within two digits); values set outside them afterwards are written in full.
        guard (0...9999).contains(year), (0...99).contains(month), (0...99).contains(day) else {
            return "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
        }
        return String(unsafeUninitializedCapacity: 10) { text in
            func put(_ value: Int, width: Int, at start: Int) {
                var remaining = value
                for offset in stride(from: width - 1, through: 0, by: -1) {
                    text[start + offset] = UInt8(ascii: "0") + UInt8(remaining % 10)
                    remaining /= 10
                }
            }
            put(year, width: 4, at: 0)
            text[4] = UInt8(ascii: "-")
            put(month, width: 2, at: 5)
            text[7] = UInt8(ascii: "-")
            put(day, width: 2, at: 8)
            return 10
        }
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
    /// The calendar date of `instant` in the IANA `timeZone` (a community's local day). Instants before year 1 or after
    /// year 9999 (only absurd input gets there: 9999-12-31T23:59Z is already year 10000 in Shanghai) give the nearest
    /// representable date rather than a trap.
    public static func of(_ instant: Date, timeZone: String) -> LocalDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt
        let parts = calendar.dateComponents([.era, .year, .month, .day], from: instant)
        guard let era = parts.era, let year = parts.year, let month = parts.month, let day = parts.day else {
            return LocalDate(unchecked: 1970, month: 1, day: 1)
        }
        if era == 0 || year < 1 { return LocalDate(unchecked: 1, month: 1, day: 1) }
        if year > 9999 { return LocalDate(unchecked: 9999, month: 12, day: 31) }
        return LocalDate(year: year, month: month, day: day) ?? LocalDate(unchecked: 1970, month: 1, day: 1)
    }
}
