/// Common-area apportionment (公摊): a shared meter's usage or cost split over houses, exactly.
///
/// Shares are proportional to each house's weight (built area, indoor area,
/// one per household, or its own usage), floored, with leftover units handed
/// out by largest remainder (ties to the earlier house; callers order by a
/// stable id). The shares always sum to the total, and each share carries the
/// sentence that explains it.
public enum Apportionment {
    /// What a house's share is proportional to.
    public enum Basis: String, Codable, Sendable, CaseIterable {
        case builtArea = "built_area"
        case indoorArea = "indoor_area"
        case household
        case usage
    }

    /// One participant: an id and its weight in the basis's unit (hundredths of m², 1, or milli-units of usage).
    public struct Participant: Hashable, Sendable {
        public var id: String
        public var weight: Int64
        public init(id: String, weight: Int64) {
            self.id = id
            self.weight = weight
        }
    }

    /// One house's share and the sentence that explains it.
    public struct Share<Value: Hashable & Sendable>: Hashable, Sendable {
        public var id: String
        public var value: Value
        public var explanation: String
        /// For a cost: the house's exact proportional share (total × weight ÷ all weights, to 1e-7 yuan, toward zero),
        /// before the split rounded it to fen.
        public var exact: ExactAmount?

        public init(id: String, value: Value, explanation: String, exact: ExactAmount? = nil) {
            self.id = id
            self.value = value
            self.explanation = explanation
            self.exact = exact
        }
    }

    /// A participant's exact share of `total`: total × weight ÷ weightSum in 1e-7 yuan, truncated (the digits past the
    /// seventh decimal are left out, never rounded up).
    public static func exactShare(of total: Money, weight: Int64, of weightSum: Int128) -> ExactAmount {
        var unit: Int128 = 1
        for _ in 0..<(7 - total.currency.minorUnitDigits) { unit *= 10 }
        guard weightSum > 0 else { return ExactAmount(tenMillionths: 0) }
        return ExactAmount(tenMillionths: Int128(total.minorUnits) * unit * Int128(weight) / weightSum)
    }

    /// The sentence of one share of a cost with its exact value and whether it received a leftover fen: anyone can
    /// redo the split from the line ("… = 83.3333333 exact; floored to 83.33, +0.01 leftover fen by largest remainder").
    public static func explanation(
        of total: Money, weight: Int64, of weightSum: Int128, basis: Basis, label: String,
        share: Money
    ) -> String {
        let exact = exactShare(of: total, weight: weight, of: weightSum)
        var unit: Int128 = 1
        for _ in 0..<(7 - total.currency.minorUnitDigits) { unit *= 10 }
        let floored = exact.tenMillionths / unit
        let leftover = Int128(share.minorUnits) - floored
        var text =
            explanation(of: total, weight: weight, of: weightSum, basis: basis, label: label)
            + " = \(exact.decimalText) exact"
        if leftover > 0 {
            text +=
                "; floored to \(Money(minorUnits: Int64(clamping: floored), currency: total.currency).decimalText), "
                + "+\(Money(minorUnits: Int64(clamping: leftover), currency: total.currency).decimalText) leftover by largest remainder"
        } else {
            text += "; floored to \(share.decimalText), no leftover fen"
        }
        return text
    }

    /// Why a split could not be made.
    public enum Failure: Error, Hashable, Sendable {
        case noParticipants
        case negativeWeight(id: String)
        case zeroTotalWeight
        case duplicateParticipant(id: String)
    }

    /// Splits a shared cost.
    public static func split(
        _ total: Money, over participants: [Participant], basis: Basis, label: String
    )
        throws(Failure) -> [Share<Money>]
    {
        let weightSum = try check(participants)
        return zip(participants, try amounts(total, over: participants)).map { participant, part in
            Share(
                id: participant.id, value: part,
                explanation: explanation(of: total, weight: participant.weight, of: weightSum, basis: basis, label: label))
        }
    }

    /// The shares of a shared cost alone, in participant order: the amounts ``split(_:over:basis:label:)`` gives, without
    /// a sentence per share. For bill runs, which split every lift meter of a million houses and write each sentence once,
    /// on the house's line (``explanation(of:weight:of:basis:label:)``).
    public static func amounts(_ total: Money, over participants: [Participant]) throws(Failure) -> [Money] {
        _ = try check(participants)
        return Allocation.largestRemainder(total: Int128(total.minorUnits), weights: participants.map { Int128($0.weight) })
            .map { Money(minorUnits: Int64($0), currency: total.currency) }
    }

    /// Splits a shared usage (e.g. lift electricity in kWh), in milli-units.
    public static func split(
        _ total: Quantity, unit: String, over participants: [Participant], basis: Basis, label: String
    )
        throws(Failure) -> [Share<Quantity>]
    {
        let weightSum = try check(participants)
        let parts = Allocation.largestRemainder(total: Int128(total.milliUnits), weights: participants.map { Int128($0.weight) })
        return zip(participants, parts).map { participant, part in
            Share(
                id: participant.id, value: Quantity(milliUnits: Int64(part)),
                explanation: "\(label) \(total.decimalText) \(unit) × \(describe(participant.weight, weightSum, basis))")
        }
    }

    static func check(_ participants: [Participant]) throws(Failure) -> Int128 {
        guard !participants.isEmpty else { throw .noParticipants }
        var seen = Set<String>()
        var sum: Int128 = 0
        for participant in participants {
            guard participant.weight >= 0 else { throw .negativeWeight(id: participant.id) }
            guard seen.insert(participant.id).inserted else { throw .duplicateParticipant(id: participant.id) }
            sum += Int128(participant.weight)
        }
        guard sum > 0 else { throw .zeroTotalWeight }
        return sum
    }

    /// The sentence that explains one share of a cost ("lift 600.00 CNY × 100.00/240.00 m² built").
    public static func explanation(of total: Money, weight: Int64, of weightSum: Int128, basis: Basis, label: String) -> String {
        "\(label) \(total.decimalText) \(total.currency.code) × \(describe(weight, weightSum, basis))"
    }

    static func describe(_ weight: Int64, _ sum: Int128, _ basis: Basis) -> String {
        switch basis {
        case .builtArea, .indoorArea:
            let name = basis == .builtArea ? "built" : "indoor"
            return "\(Area(hundredths: weight).decimalText)/\(FixedPoint.format(Int64(clamping: sum), scale: 2)) m² \(name)"
        case .household:
            return "\(weight)/\(sum) households"
        case .usage:
            return "\(Quantity(milliUnits: weight).decimalText)/\(FixedPoint.format(Int64(clamping: sum), scale: 3)) own usage"
        }
    }
}
