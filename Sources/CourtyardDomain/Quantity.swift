import Foundation

/// A metered quantity in integer milli-units (Wh for kWh, litres for m³, ms-free seconds for durations).
///
/// Meter registers and usages are exact decimals with up to three fraction
/// digits; keeping them as integers means usage deltas and tier slices never
/// drift.
public struct Quantity: Hashable, Comparable, Sendable {
    /// Thousandths of the unit.
    public var milliUnits: Int64

    public init(milliUnits: Int64) { self.milliUnits = milliUnits }

    /// Reads "9759.073" (at most three fraction digits).
    public init(parsing text: some StringProtocol) throws(FixedPoint.ParseError) {
        self.milliUnits = try FixedPoint.parse(text, scale: 3)
    }

    /// "9759.073".
    public var decimalText: String { FixedPoint.format(milliUnits, scale: 3) }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.milliUnits < rhs.milliUnits }
    public static let zero = Quantity(milliUnits: 0)
}

/// A unit price in integer units of 1e-4 yuan (0.5283 yuan/kWh = 5283).
///
/// Tariffs publish prices with up to four decimals; storing them as integers
/// keeps the one multiplication per bill line exact.
public struct UnitPrice: Hashable, Comparable, Sendable {
    /// Ten-thousandths of the currency's major unit.
    public var tenThousandths: Int64

    public init(tenThousandths: Int64) { self.tenThousandths = tenThousandths }

    /// Reads "0.5283" (at most four fraction digits).
    public init(parsing text: some StringProtocol) throws(FixedPoint.ParseError) {
        self.tenThousandths = try FixedPoint.parse(text, scale: 4)
    }

    /// "0.5283".
    public var decimalText: String { FixedPoint.format(tenThousandths, scale: 4) }

    public static func < (lhs: UnitPrice, rhs: UnitPrice) -> Bool { lhs.tenThousandths < rhs.tenThousandths }

    /// The exact (unrounded) cost of `quantity` at this price.
    public func cost(of quantity: Quantity) -> ExactAmount {
        ExactAmount(tenMillionths: Int128(tenThousandths) * Int128(quantity.milliUnits))
    }
}

/// An exact, not yet rounded amount in 1e-7 of the major unit: the product of a `UnitPrice` and a `Quantity`.
///
/// Bill lines keep this value next to the rounded `Money`, so the rounding of
/// each line is visible and reproducible.
public struct ExactAmount: Hashable, Comparable, Sendable {
    /// Units of 1e-7 yuan. Int128 so that sums over a year of usage cannot overflow.
    public var tenMillionths: Int128

    public init(tenMillionths: Int128) { self.tenMillionths = tenMillionths }

    public static func < (lhs: ExactAmount, rhs: ExactAmount) -> Bool { lhs.tenMillionths < rhs.tenMillionths }

    public static func + (lhs: ExactAmount, rhs: ExactAmount) -> ExactAmount {
        ExactAmount(tenMillionths: lhs.tenMillionths + rhs.tenMillionths)
    }

    /// Rounds once to whole minor units with `mode`; `nil` if the result does not fit in `Money`.
    public func rounded(_ mode: RoundingMode, currency: Currency = .cny) -> Money? {
        var divisor: Int128 = 1
        for _ in 0..<(7 - currency.minorUnitDigits) { divisor *= 10 }
        let minor = mode.divide(tenMillionths, by: divisor)
        guard minor >= Int128(Int64.min), minor <= Int128(Int64.max) else { return nil }
        return Money(minorUnits: Int64(minor), currency: currency)
    }

    /// "444.1950000": all seven fraction digits, for audit display.
    public var decimalText: String {
        FixedPoint.format(negative: tenMillionths < 0, magnitude: tenMillionths.magnitude, scale: 7)
    }
}

/// A floor area in hundredths of a square metre (87.20 m² = 8720).
///
/// Houses carry a built area (建筑面积) and an indoor area (套内面积); per-m²
/// fees and 公摊 by area multiply by these exactly.
public struct Area: Hashable, Comparable, Sendable {
    /// Hundredths of a square metre.
    public var hundredths: Int64

    public init(hundredths: Int64) { self.hundredths = hundredths }

    /// Reads "87.2" or "87.20" (at most two fraction digits).
    public init(parsing text: some StringProtocol) throws(FixedPoint.ParseError) {
        self.hundredths = try FixedPoint.parse(text, scale: 2)
    }

    /// "87.20".
    public var decimalText: String { FixedPoint.format(hundredths, scale: 2) }

    public static func < (lhs: Area, rhs: Area) -> Bool { lhs.hundredths < rhs.hundredths }
}

/// Areas travel in the API as strings ("87.20"); a JSON number is accepted on input and read from its exact text.
extension Area: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text: String
        if let string = try? container.decode(String.self) {
            text = string
        } else if let number = try? container.decode(Decimal.self) {
            text = "\(number)"
        } else {
            throw DecodingError.typeMismatch(Area.self, .init(codingPath: decoder.codingPath, debugDescription: "expected an area such as \"87.20\""))
        }
        do {
            self = try Area(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "expected an area with at most 2 decimals, such as \"87.20\""))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalText)
    }
}
