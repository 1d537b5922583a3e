/// An exact amount of money in integer minor units (fen for CNY).
///
/// `Money` never holds a fraction of a fen and never touches floating point.
/// Arithmetic traps on overflow is avoided: the checked operations return
/// `nil` or throw instead, so a corrupted input cannot crash the server.
public struct Money: Hashable, Comparable, Sendable {
    /// Minor units (fen).
    public var minorUnits: Int64
    /// ISO 4217 currency code, "CNY" unless a company says otherwise.
    public var currency: Currency

    /// Creates an amount of `minorUnits` fen in `currency`.
    public init(minorUnits: Int64, currency: Currency = .cny) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// Zero in `currency`.
    public static func zero(_ currency: Currency = .cny) -> Money { Money(minorUnits: 0, currency: currency) }

    /// Reads decimal text ("12.34", "-0.5", "7") as money; more than two decimals is an error, not a rounding.
    public init(parsing text: some StringProtocol, currency: Currency = .cny) throws(FixedPoint.ParseError) {
        self.init(minorUnits: try FixedPoint.parse(text, scale: currency.minorUnitDigits), currency: currency)
    }

    /// The decimal text with exactly the currency's number of fraction digits ("12.30").
    public var decimalText: String { FixedPoint.format(minorUnits, scale: currency.minorUnitDigits) }

    /// Orders by amount, then by currency code. Amounts in different currencies are not comparable in any meaningful
    /// way: code that compares money checks the currency first (``isIn(_:)``); this order only keeps `<` total,
    /// since a trap on input that names another currency would stop the whole server.
    public static func < (lhs: Money, rhs: Money) -> Bool {
        (lhs.minorUnits, lhs.currency.code) < (rhs.minorUnits, rhs.currency.code)
    }

    /// Whether this amount is in `expected` (a community's currency); money from outside is checked with this before it is
    /// booked, so that 50.00 USD is never stored as 50.00 CNY.
    public func isIn(_ expected: Currency) -> Bool { currency.code == expected.code }

    /// Why money arithmetic refused to produce a value.
    public enum ArithmeticError: Error, Equatable, Sendable {
        case currencyMismatch
        case overflow
    }

    /// The sum, or an error on overflow or mixed currencies.
    public func adding(_ other: Money) throws(ArithmeticError) -> Money {
        guard currency == other.currency else { throw .currencyMismatch }
        let (value, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        if overflow { throw .overflow }
        return Money(minorUnits: value, currency: currency)
    }

    /// The difference, or an error on overflow or mixed currencies.
    public func subtracting(_ other: Money) throws(ArithmeticError) -> Money {
        guard currency == other.currency else { throw .currencyMismatch }
        let (value, overflow) = minorUnits.subtractingReportingOverflow(other.minorUnits)
        if overflow { throw .overflow }
        return Money(minorUnits: value, currency: currency)
    }

    /// Splits this amount into parts proportional to `weights`, summing exactly to the total.
    ///
    /// Each part is first floored; the fen left over are handed out one each to
    /// the parts with the largest remainders, ties going to the earlier index
    /// (callers order by a stable id). Weights must be non-negative with a
    /// positive sum. Used for 公摊, instalments and refunds across bills.
    public func split(byWeights weights: [Int64]) -> [Money] {
        let shares = Allocation.largestRemainder(total: Int128(minorUnits), weights: weights.map { Int128($0) })
        return shares.map { Money(minorUnits: Int64($0), currency: currency) }
    }
}

extension Money: CustomStringConvertible {
    public var description: String { "\(decimalText) \(currency.code)" }
}

/// The API form of money: `{"amount": "12.34", "currency": "CNY"}`, amount as a string so no client parses it as a float.
extension Money: Codable {
    private enum CodingKeys: String, CodingKey { case amount, currency }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let currency = try container.decodeIfPresent(Currency.self, forKey: .currency) ?? .cny
        let text = try container.decode(String.self, forKey: .amount)
        do {
            self = try Money(parsing: text, currency: currency)
        } catch {
            throw DecodingError.dataCorruptedError(
                forKey: .amount, in: container, debugDescription: "not an exact amount with at most \(currency.minorUnitDigits) decimals")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(decimalText, forKey: .amount)
        try container.encode(currency, forKey: .currency)
    }
}

/// An ISO 4217 currency with its number of minor-unit digits.
public struct Currency: Hashable, Sendable, Codable {
    /// The three-letter code.
    public var code: String
    /// Digits after the decimal point (2 for CNY).
    public var minorUnitDigits: Int

    public init(code: String, minorUnitDigits: Int = 2) {
        self.code = code
        self.minorUnitDigits = minorUnitDigits
    }

    /// Chinese yuan renminbi, the default.
    public static let cny = Currency(code: "CNY")

    /// Currencies a community may be configured with.
    public static let supported: [String: Currency] = [
        "CNY": .cny, "HKD": Currency(code: "HKD"), "MOP": Currency(code: "MOP"), "USD": Currency(code: "USD"),
    ]

    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        guard let known = Currency.supported[code] else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unsupported currency \(code)"))
        }
        self = known
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}
