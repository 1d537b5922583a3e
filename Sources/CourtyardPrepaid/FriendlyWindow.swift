import CourtyardDomain
import Foundation

/// A time when supply is not cut even at zero balance (友好用电/用水): nights, weekends, public holidays, set days.
///
/// A cut-off that falls due inside a window waits until the windows end (a Friday night followed by a weekend waits
/// until Monday morning).
public enum FriendlyWindow: Codable, Sendable, Hashable {
    /// Every day from `start` to `end` ("HH:MM", local); may wrap midnight.
    case daily(start: Int, end: Int)
    /// Whole local days of the week (1 = Monday … 7 = Sunday).
    case weekly(days: [Int])
    /// Whole set local days.
    case dates([LocalDate])
    /// The community's public holidays (`community_holidays`).
    case publicHolidays

    static let dayNames = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    enum CodingKeys: String, CodingKey { case kind, start, end, days, dates }

    /// Minutes since midnight from "HH:MM", or nil.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0..<60).contains(m), h * 60 + m <= 1440
        else { return nil }
        return h * 60 + m
    }

    static func text(_ minutes: Int) -> String {
        let h = minutes / 60, m = minutes % 60
        return (h < 10 ? "0" : "") + "\(h):" + (m < 10 ? "0" : "") + "\(m)"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "daily":
            guard let start = Self.minutes(try c.decode(String.self, forKey: .start)) else {
                throw DecodingError.dataCorruptedError(forKey: .start, in: c, debugDescription: "expected HH:MM")
            }
            guard let end = Self.minutes(try c.decode(String.self, forKey: .end)) else {
                throw DecodingError.dataCorruptedError(forKey: .end, in: c, debugDescription: "expected HH:MM")
            }
            self = .daily(start: start, end: end)
        case "weekly":
            let names = try c.decode([String].self, forKey: .days)
            var days: [Int] = []
            for name in names {
                guard let index = Self.dayNames.firstIndex(of: name.lowercased()) else {
                    throw DecodingError.dataCorruptedError(forKey: .days, in: c, debugDescription: "expected day names such as saturday")
                }
                days.append(index + 1)
            }
            self = .weekly(days: days)
        case "dates":
            self = .dates(try c.decode([LocalDate].self, forKey: .dates))
        case "public_holidays":
            self = .publicHolidays
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "expected daily, weekly, dates or public_holidays")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .daily(let start, let end):
            try c.encode("daily", forKey: .kind)
            try c.encode(Self.text(start), forKey: .start)
            try c.encode(Self.text(end), forKey: .end)
        case .weekly(let days):
            try c.encode("weekly", forKey: .kind)
            try c.encode(days.map { Self.dayNames[$0 - 1] }, forKey: .days)
        case .dates(let dates):
            try c.encode("dates", forKey: .kind)
            try c.encode(dates, forKey: .dates)
        case .publicHolidays:
            try c.encode("public_holidays", forKey: .kind)
        }
    }

    /// Overlaps and empty windows: a configuration that says the same time twice is refused, not merged.
    static func validate(_ windows: [FriendlyWindow]) -> [PlanConfig.Issue] {
        var issues: [PlanConfig.Issue] = []
        var dailyMinutes = [Int?](repeating: nil, count: 1440)
        var weekdays: [Int: Int] = [:]
        var dates: [LocalDate: Int] = [:]
        var holidays = false
        for (index, window) in windows.enumerated() {
            let field = "friendly_windows[\(index)]"
            switch window {
            case .daily(let start, let end):
                if start == end {
                    issues.append(.init(field: field, code: "empty_window", message: "start and end are the same time"))
                    continue
                }
                var minute = start
                while minute != end {
                    if let other = dailyMinutes[minute % 1440] {
                        issues.append(
                            .init(
                                field: field, code: "overlapping_windows",
                                message: "overlaps friendly_windows[\(other)] at \(Self.text(minute % 1440))"))
                        break
                    }
                    dailyMinutes[minute % 1440] = index
                    minute = (minute + 1) % 1440
                    if minute == 0 && end == 1440 { break }
                }
            case .weekly(let days):
                if days.isEmpty { issues.append(.init(field: field, code: "empty_window", message: "name at least one day")) }
                for day in days {
                    if let other = weekdays[day] {
                        issues.append(
                            .init(
                                field: field, code: "overlapping_windows",
                                message: "\(Self.dayNames[day - 1]) is already in friendly_windows[\(other)]"))
                    }
                    weekdays[day] = index
                }
            case .dates(let list):
                if list.isEmpty { issues.append(.init(field: field, code: "empty_window", message: "name at least one date")) }
                for date in list {
                    if let other = dates[date] {
                        issues.append(.init(field: field, code: "overlapping_windows", message: "\(date) is already in friendly_windows[\(other)]"))
                    }
                    dates[date] = index
                }
            case .publicHolidays:
                if holidays { issues.append(.init(field: field, code: "overlapping_windows", message: "public_holidays is named twice")) }
                holidays = true
            }
        }
        return issues
    }
}

/// Local wall-clock arithmetic in a community's time zone, without a Calendar (this runs per reading).
public struct LocalClock: Sendable {
    public let zone: TimeZone

    public init(zone: TimeZone) { self.zone = zone }

    /// Seconds east of UTC at `milliseconds`.
    func offset(_ milliseconds: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(milliseconds / 1000))))
    }

    /// The local (day number since 1970-01-01, minute of day) at `milliseconds`.
    public func local(_ milliseconds: Int64) -> (day: Int64, minute: Int) {
        let seconds = Self.floorDiv(milliseconds, 1000) + offset(milliseconds)
        let day = Self.floorDiv(seconds, 86_400)
        return (day, Int((seconds - day * 86_400) / 60))
    }

    /// The local date of day number `day`.
    public static func date(day: Int64) -> LocalDate {
        LocalDate(daysSinceEpoch: Int(day))
    }

    /// 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday).
    public static func weekday(day: Int64) -> Int {
        Int(((day % 7) + 7 + 3) % 7) + 1
    }

    /// The instant (ms) of local `minute` on local day `day` (the offset in force at that time).
    public func instant(day: Int64, minute: Int) -> Int64 {
        let naive = day * 86_400 + Int64(minute) * 60
        let guess = naive - offset(naive * 1000)
        return (naive - offset(guess * 1000)) * 1000
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}

/// Whether an instant is inside friendly windows, and when they end.
public struct FriendlyCalendar: Sendable {
    public var windows: [FriendlyWindow]
    public var holidays: Set<LocalDate>
    public var clock: LocalClock

    public init(windows: [FriendlyWindow], holidays: Set<LocalDate>, clock: LocalClock) {
        self.windows = windows
        self.holidays = holidays
        self.clock = clock
    }

    /// The end of the window containing `milliseconds`, or nil when it is in none.
    func endOfWindow(containing milliseconds: Int64) -> Int64? {
        let (day, minute) = clock.local(milliseconds)
        var best: Int64?
        func consider(_ end: Int64) { if end > milliseconds { best = max(best ?? end, end) } }
        for window in windows {
            switch window {
            case .daily(let start, let end):
                if start < end {
                    if minute >= start && minute < end { consider(clock.instant(day: day, minute: end)) }
                } else {
                    if minute >= start { consider(clock.instant(day: day + 1, minute: end)) }
                    if minute < end { consider(clock.instant(day: day, minute: end)) }
                }
            case .weekly(let days):
                if days.contains(LocalClock.weekday(day: day)) { consider(clock.instant(day: day + 1, minute: 0)) }
            case .dates(let dates):
                if dates.contains(LocalClock.date(day: day)) { consider(clock.instant(day: day + 1, minute: 0)) }
            case .publicHolidays:
                if holidays.contains(LocalClock.date(day: day)) { consider(clock.instant(day: day + 1, minute: 0)) }
            }
        }
        return best
    }

    /// When a cut-off due at `milliseconds` may happen: then, or the end of the (chained) friendly windows around it.
    public func cutoffTime(dueAt milliseconds: Int64) -> Int64 {
        var time = milliseconds
        for _ in 0..<400 {
            guard let end = endOfWindow(containing: time) else { return time }
            time = end
        }
        return time
    }
}
