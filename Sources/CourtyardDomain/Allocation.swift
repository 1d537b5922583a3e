/// Exact proportional splitting by the largest-remainder method.
///
/// The one place Courtyard divides a total into parts. Parts always sum to the
/// total; no part differs from its exact share by a whole unit or more.
public enum Allocation {
    /// Splits `total` into parts proportional to `weights`.
    ///
    /// - Precondition: weights are non-negative and their sum is positive.
    /// - Returns: one part per weight; ties in remainder go to the lower index.
    public static func largestRemainder(total: Int128, weights: [Int128]) -> [Int128] {
        precondition(!weights.isEmpty, "nothing to split over")
        precondition(weights.allSatisfy { $0 >= 0 }, "negative weight")
        let weightSum = weights.reduce(0, +)
        precondition(weightSum > 0, "weights sum to zero")
        let negative = total < 0
        let magnitude = negative ? -total : total
        var parts = [Int128]()
        parts.reserveCapacity(weights.count)
        var remainders = [(remainder: Int128, index: Int)]()
        remainders.reserveCapacity(weights.count)
        var assigned: Int128 = 0
        for (index, weight) in weights.enumerated() {
            let product = magnitude * weight
            let part = product / weightSum
            parts.append(part)
            assigned += part
            remainders.append((product % weightSum, index))
        }
        var leftover = magnitude - assigned
        if leftover > 0 {
            remainders.sort { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.index < $1.index }
            var cursor = 0
            while leftover > 0 {
                parts[remainders[cursor].index] += 1
                leftover -= 1
                cursor += 1
            }
        }
        return negative ? parts.map { -$0 } : parts
    }
}
