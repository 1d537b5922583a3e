/// How a fee item turns a quantity (usage, area, time, or nothing) into money. Data, validated when saved.
///
/// A rule is JSON (see `docs/TARIFFS.md`): a rule that cannot price is
/// refused by ``validate()`` when it is saved, never priced as 0 later.
public struct PricingRule: Codable, Sendable, Hashable {
    /// What the rule charges for.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A fixed amount per billing period.
        case fixed
        /// A unit price per m² per month.
        case perArea = "per_area"
        /// Metered usage with tiers and optional time-of-use windows.
        case metered
        /// Time (parking, facilities): free minutes, a first period, then a price per period, with a daily cap.
        case perDuration = "per_duration"
    }

    /// Graduated: each slice at its own tier's price (ALL_TIERS). Volume: the whole usage at the tier reached (TOP_TIER).
    public enum TierMode: String, Codable, Sendable, CaseIterable {
        case graduated, volume
    }

    /// Over which span tier positions accumulate.
    public enum Accumulation: String, Codable, Sendable, CaseIterable {
        case monthly, annual
    }

    /// Which area a per-m² fee uses.
    public enum AreaBasis: String, Codable, Sendable, CaseIterable {
        case built, indoor
    }

    /// One tier: usage up to `upTo` (cumulative, exclusive of the next tier) at `price`; the last tier has no bound.
    public struct Tier: Codable, Sendable, Hashable {
        public var upTo: Quantity?
        public var price: UnitPrice
        public init(upTo: Quantity?, price: UnitPrice) {
            self.upTo = upTo
            self.price = price
        }
    }

    /// A time-of-use window in the community's local time, with one price per tier.
    public struct Window: Codable, Sendable, Hashable {
        public var name: String
        /// "HH:MM"; windows may wrap midnight (22:00–08:00).
        public var start: String
        public var end: String
        public var prices: [UnitPrice]
        public init(name: String, start: String, end: String, prices: [UnitPrice]) {
            self.name = name
            self.start = start
            self.end = end
            self.prices = prices
        }
    }

    /// Time pricing: free minutes, a first period, then every N minutes, capped per day.
    public struct DurationPricing: Codable, Sendable, Hashable {
        public var freeMinutes: Int
        public var firstMinutes: Int
        public var firstPrice: Money
        public var everyMinutes: Int
        public var everyPrice: Money
        public var dailyCap: Money?
        public init(freeMinutes: Int, firstMinutes: Int, firstPrice: Money, everyMinutes: Int, everyPrice: Money, dailyCap: Money?) {
            self.freeMinutes = freeMinutes
            self.firstMinutes = firstMinutes
            self.firstPrice = firstPrice
            self.everyMinutes = everyMinutes
            self.everyPrice = everyPrice
            self.dailyCap = dailyCap
        }
    }

    public var kind: Kind
    /// The unit of metered quantities, for display ("kWh", "m³").
    public var unit: String?
    /// For `fixed`: the amount per period.
    public var amount: Money?
    /// For `perArea`: price per m² per month, and which area.
    public var pricePerSquareMetre: UnitPrice?
    public var areaBasis: AreaBasis?
    /// For `metered`.
    public var mode: TierMode?
    public var accumulation: Accumulation?
    public var tiers: [Tier]?
    public var windows: [Window]?
    /// The least a period is charged (metered), if any.
    public var minimumCharge: Money?
    /// For `perDuration`.
    public var duration: DurationPricing?
    /// How the line's exact total is rounded to fen (once).
    public var rounding: RoundingMode

    public init(
        kind: Kind, unit: String? = nil, amount: Money? = nil, pricePerSquareMetre: UnitPrice? = nil,
        areaBasis: AreaBasis? = nil, mode: TierMode? = nil, accumulation: Accumulation? = nil, tiers: [Tier]? = nil,
        windows: [Window]? = nil, minimumCharge: Money? = nil, duration: DurationPricing? = nil,
        rounding: RoundingMode = .halfUp
    ) {
        self.kind = kind
        self.unit = unit
        self.amount = amount
        self.pricePerSquareMetre = pricePerSquareMetre
        self.areaBasis = areaBasis
        self.mode = mode
        self.accumulation = accumulation
        self.tiers = tiers
        self.windows = windows
        self.minimumCharge = minimumCharge
        self.duration = duration
        self.rounding = rounding
    }

    /// Keys as they appear in JSON (snake_case is applied by the API's coder).
    enum CodingKeys: String, CodingKey {
        case kind, unit, amount, pricePerSquareMetre, areaBasis, mode, accumulation, tiers, windows, minimumCharge, duration, rounding
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        unit = try c.decodeIfPresent(String.self, forKey: .unit)
        amount = try c.decodeIfPresent(Money.self, forKey: .amount)
        pricePerSquareMetre = try c.decodeIfPresent(UnitPrice.self, forKey: .pricePerSquareMetre)
        areaBasis = try c.decodeIfPresent(AreaBasis.self, forKey: .areaBasis)
        mode = try c.decodeIfPresent(TierMode.self, forKey: .mode)
        accumulation = try c.decodeIfPresent(Accumulation.self, forKey: .accumulation)
        tiers = try c.decodeIfPresent([Tier].self, forKey: .tiers)
        windows = try c.decodeIfPresent([Window].self, forKey: .windows)
        minimumCharge = try c.decodeIfPresent(Money.self, forKey: .minimumCharge)
        duration = try c.decodeIfPresent(DurationPricing.self, forKey: .duration)
        rounding = try c.decodeIfPresent(RoundingMode.self, forKey: .rounding) ?? .halfUp
    }
}

/// One problem with a rule, with the JSON path of the offending field.
public struct RuleIssue: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var code: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

extension Quantity: Codable {
    /// Quantities travel as strings ("9759.073"); JSON numbers are read from their exact text.
    public init(from decoder: any Decoder) throws {
        let what = "a quantity such as \"9759.073\" (at most 3 decimals)"
        do { self = try Quantity(parsing: decodeExactText(decoder, what: what)) } catch let error as FixedPoint.ParseError {
            throw error.decodingError(decoder, what: what)
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(decimalText)
    }
}

extension UnitPrice: Codable {
    /// Unit prices travel as strings ("0.5283"), at most four decimals.
    public init(from decoder: any Decoder) throws {
        let what = "a price such as \"0.5283\" (at most 4 decimals)"
        do { self = try UnitPrice(parsing: decodeExactText(decoder, what: what)) } catch let error as FixedPoint.ParseError {
            throw error.decodingError(decoder, what: what)
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(decimalText)
    }
}
