import CourtyardDomain

/// Binary-coded decimal as meters send it: two digits per byte, low byte first.
enum BCD {
    /// The value of `bytes` (low byte first), or nil when a nibble is above 9.
    /// When `signed`, bit 7 of the most significant byte is the sign (DL/T 645 power and current).
    static func value(_ bytes: ArraySlice<UInt8>, signed: Bool = false) -> Int64? {
        var result: Int64 = 0
        var negative = false
        for (position, byte) in bytes.reversed().enumerated() {
            var byte = byte
            if signed && position == 0 {
                negative = byte & 0x80 != 0
                byte &= 0x7F
            }
            let high = byte >> 4, low = byte & 0x0F
            guard high <= 9, low <= 9 else { return nil }
            result = result * 100 + Int64(high) * 10 + Int64(low)
        }
        return negative ? -result : result
    }

    /// One byte's two digits, or nil.
    static func digits(_ byte: UInt8) -> Int? {
        let high = byte >> 4, low = byte & 0x0F
        guard high <= 9, low <= 9 else { return nil }
        return Int(high) * 10 + Int(low)
    }

    /// `value` as `count` BCD bytes, low byte first; nil when it does not fit.
    static func bytes(_ value: Int64, count: Int) -> [UInt8]? {
        guard value >= 0 else { return nil }
        var remaining = value
        var result: [UInt8] = []
        for _ in 0..<count {
            let pair = remaining % 100
            remaining /= 100
            result.append(UInt8(pair / 10) << 4 | UInt8(pair % 10))
        }
        return remaining == 0 ? result : nil
    }

    static func byte(_ value: Int) -> UInt8 { UInt8(value / 10) << 4 | UInt8(value % 10) }
}

/// An exact decimal read from a meter: `units × 10^-scale` of `unit`.
///
/// Registers are BCD with a fixed number of decimals (energy XXXXXX.XX kWh,
/// voltage XXX.X V); keeping the integer and its scale means nothing is ever
/// rounded between the meter and the ledger.
public struct MeterValue: Hashable, Sendable, CustomStringConvertible, Encodable {
    public var units: Int64
    public var scale: Int
    public var unit: String

    public init(units: Int64, scale: Int, unit: String) {
        self.units = units
        self.scale = scale
        self.unit = unit
    }

    /// The decimal text, e.g. `"12345.67"`.
    public var text: String { FixedPoint.format(units, scale: scale) }
    public var description: String { "\(text) \(unit)" }

    /// The value in thousandths of `unit` (Courtyard's milli-units), or nil when it has more than three decimals.
    public var milliUnits: Int64? {
        if scale <= 3 {
            var value = units
            for _ in scale..<3 {
                let (product, overflow) = value.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                value = product
            }
            return value
        }
        var value = units
        for _ in 3..<scale {
            guard value % 10 == 0 else { return nil }
            value /= 10
        }
        return value
    }

    enum CodingKeys: String, CodingKey { case value, unit }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(text, forKey: .value)
        try container.encode(unit, forKey: .unit)
    }
}

/// A meter's own wall-clock time (meters keep local time and know no zone).
public struct MeterClock: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    /// A checked time; nil for impossible fields (month 13, 31 February, hour 24…).
    public init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        guard (2000...2099).contains(year), (1...12).contains(month), (0...23).contains(hour), (0...59).contains(minute),
            (0...59).contains(second)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Reads `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`.
    public init?(text: String) {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "T" || $0 == "-" || $0 == ":" })
        guard parts.count == 6, parts.allSatisfy({ $0.allSatisfy(\.isASCII) }) else { return nil }
        let numbers = parts.compactMap { Int($0) }
        guard numbers.count == 6 else { return nil }
        self.init(year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3], minute: numbers[4], second: numbers[5])
    }

    var ordinal: [Int] { [year, month, day, hour, minute, second] }
    public static func < (lhs: MeterClock, rhs: MeterClock) -> Bool { lhs.ordinal.lexicographicallyPrecedes(rhs.ordinal) }

    public var description: String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute)):\(two(second))"
    }
}
