/// How an exact amount is rounded to whole minor units (fen).
///
/// Courtyard rounds once per bill line; the line stores which mode was used so
/// that every fen can be explained. Half-up is the default; fee items may
/// choose another.
public enum RoundingMode: String, Codable, Sendable, CaseIterable {
    /// Round half away from zero (0.005 → 0.01, −0.005 → −0.01).
    case halfUp = "half_up"
    /// Round half to the nearest even digit (banker's rounding).
    case halfEven = "half_even"
    /// Round toward negative infinity.
    case floor
    /// Round toward positive infinity.
    case ceiling

    /// Divides `numerator` by a positive `denominator`, rounding the quotient with this mode.
    public func divide(_ numerator: Int128, by denominator: Int128) -> Int128 {
        precondition(denominator > 0, "rounding divisor must be positive")
        // Floor division first; then decide whether to step up by one.
        var quotient = numerator / denominator
        var remainder = numerator % denominator
        if remainder < 0 {
            quotient -= 1
            remainder += denominator
        }
        if remainder == 0 { return quotient }
        switch self {
        case .floor:
            return quotient
        case .ceiling:
            return quotient + 1
        case .halfUp:
            let twice = remainder * 2
            if twice > denominator { return quotient + 1 }
            if twice < denominator { return quotient }
            // Exactly half: away from zero.
            return numerator >= 0 ? quotient + 1 : quotient
        case .halfEven:
            let twice = remainder * 2
            if twice > denominator { return quotient + 1 }
            if twice < denominator { return quotient }
            return quotient % 2 == 0 ? quotient : quotient + 1
        }
    }
}
