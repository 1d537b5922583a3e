import Foundation

/// One explained part of a quote: a tier slice, a window's share of it, an area charge…
///
/// A slice keeps what it *is* (its ``Explanation``) and its numbers; the sentence a clerk reads
/// ("tier 1 (graduated): 120.000 kWh × 0.5680") is built from them on demand. A bill run makes millions of
/// slices and stores them all, but prints almost none: building and storing the sentence for each was
/// about 40 % of a time-of-use line's bytes and a good part of planning.
public struct QuoteLine: Sendable, Hashable {
    /// What kind of slice this is: with the slice's numbers, enough to say it in words.
    public enum Explanation: Sendable, Hashable {
        /// A fixed amount per month; the amount is `exact ÷ months`.
        case fixed(months: Int64)
        /// An area × the unit price × months.
        case area(Area, months: Int64)
        /// A tier's slice of metered usage (tier, quantity and unit price on the line).
        case tier(PricingRule.TierMode)
        /// A time-of-use window's share of a tier's slice (tier, window, quantity and unit price on the line).
        case window
        /// A sentence that does not follow from the numbers: per-duration days, and slices stored before 2026-12.
        case text(String)
    }

    public var explanation: Explanation
    /// 1-based tier number, for metered lines.
    public var tier: Int?
    public var window: String?
    public var quantity: Quantity?
    public var unitPrice: UnitPrice?
    /// Exact amount in 1e-7 yuan, before the line's single rounding.
    public var exact: ExactAmount
    /// The quantity's unit ("kWh") for metered slices. Not stored per slice: a bill line's `unit` column has it.
    public var unit: String?

    public init(
        _ explanation: Explanation, tier: Int?, window: String?, quantity: Quantity?, unitPrice: UnitPrice?,
        exact: ExactAmount, unit: String? = nil
    ) {
        self.explanation = explanation; self.tier = tier; self.window = window; self.quantity = quantity
        self.unitPrice = unitPrice; self.exact = exact; self.unit = unit
    }

    /// A slice explained by its own sentence.
    public init(description: String, tier: Int?, window: String?, quantity: Quantity?, unitPrice: UnitPrice?, exact: ExactAmount) {
        self.init(.text(description), tier: tier, window: window, quantity: quantity, unitPrice: unitPrice, exact: exact)
    }

    /// Gives a metered slice read from storage its unit back (the bill line's); other slices have none.
    public mutating func restoreUnit(_ unit: String?) {
        switch explanation {
        case .tier, .window: self.unit = unit
        case .fixed, .area, .text: break
        }
    }

    /// Whether the sentence follows from the numbers, so storage can leave it out.
    public var isSelfExplaining: Bool {
        if case .text = explanation { return false }
        return true
    }

    /// The sentence a finance clerk reads.
    public var description: String {
        let unitText = unit.map { " " + $0 } ?? ""
        let quantityText = quantity?.decimalText ?? "0.000"
        let priceText = unitPrice?.decimalText ?? "0.0000"
        switch explanation {
        case .fixed(let months):
            let perMonth = months == 0 ? 0 : exact.tenMillionths / (Int128(months) * 100_000)
            return "fixed \(FixedPoint.format(negative: perMonth < 0, magnitude: perMonth.magnitude, scale: 2)) × \(months) month(s)"
        case .area(let area, let months):
            return "\(area.decimalText) m² × \(priceText)/m²/month × \(months) month(s)"
        case .tier(let mode):
            return "tier \(tier ?? 0) (\(mode.rawValue)): \(quantityText)\(unitText) × \(priceText)"
        case .window:
            return "tier \(tier ?? 0) \(window ?? ""): \(quantityText)\(unitText) × \(priceText)"
        case .text(let text):
            return text
        }
    }
}

extension CodingUserInfoKey {
    /// Set to `true` on an encoder that writes ``QuoteLine``s for storage: sentences that follow from the numbers,
    /// and the unit, are left out.
    public static let storedQuoteLine = CodingUserInfoKey(rawValue: "courtyard.storedQuoteLine")!
}

extension QuoteLine: Codable {
    private enum CodingKeys: String, CodingKey {
        case area, description, exact, mode, months, quantity, tier, unit, unitPrice, window
    }

    /// Reads both forms: the API's (with `description` and `unit`) and storage's. A stored `description` that differs from
    /// what the numbers say wins, so slices written before the sentence was left out read exactly as they were written.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tier = try c.decodeIfPresent(Int.self, forKey: .tier)
        window = try c.decodeIfPresent(String.self, forKey: .window)
        quantity = try c.decodeIfPresent(Quantity.self, forKey: .quantity)
        unitPrice = try c.decodeIfPresent(UnitPrice.self, forKey: .unitPrice)
        exact = try c.decode(ExactAmount.self, forKey: .exact)
        unit = try c.decodeIfPresent(String.self, forKey: .unit)
        let mode = try c.decodeIfPresent(PricingRule.TierMode.self, forKey: .mode)
        let months = try c.decodeIfPresent(Int64.self, forKey: .months)
        let area = try c.decodeIfPresent(Area.self, forKey: .area)
        let description = try c.decodeIfPresent(String.self, forKey: .description)
        var structured: Explanation?
        if window != nil, tier != nil {
            structured = .window
        } else if tier != nil {
            structured = .tier(mode ?? .graduated)
        } else if let area, let months {
            structured = .area(area, months: months)
        } else if let months {
            structured = .fixed(months: months)
        }
        if let structured {
            explanation = structured
            if let description, description != self.description { explanation = .text(description) }
        } else if let description {
            explanation = .text(description)
        } else {
            throw DecodingError.dataCorruptedError(
                forKey: .description, in: c,
                debugDescription: "a quote line needs a description or the numbers that explain it")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        let stored = encoder.userInfo[.storedQuoteLine] as? Bool == true
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch explanation {
        case .fixed(let months):
            try c.encode(months, forKey: .months)
        case .area(let area, let months):
            try c.encode(area, forKey: .area)
            try c.encode(months, forKey: .months)
        case .tier(let mode):
            if !stored || mode != .graduated { try c.encode(mode, forKey: .mode) }
        case .window, .text:
            break
        }
        if !stored || !isSelfExplaining { try c.encode(description, forKey: .description) }
        try c.encode(exact, forKey: .exact)
        try c.encodeIfPresent(quantity, forKey: .quantity)
        try c.encodeIfPresent(tier, forKey: .tier)
        if !stored { try c.encodeIfPresent(unit, forKey: .unit) }
        try c.encodeIfPresent(unitPrice, forKey: .unitPrice)
        try c.encodeIfPresent(window, forKey: .window)
    }
}
