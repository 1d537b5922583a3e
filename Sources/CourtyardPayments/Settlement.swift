/// How money is spread over what a house owes: pure, exact, and the same every time for the same inputs.
public enum Settlement {
    /// One bill's debt at the moment of payment.
    public struct Debt: Sendable, Hashable {
        public var billId: String
        /// Late fees due as of the payment date and not yet settled (fen).
        public var lateFee: Int64
        /// Unpaid principal (fen).
        public var principal: Int64

        public init(billId: String, lateFee: Int64, principal: Int64) {
            self.billId = billId
            self.lateFee = lateFee
            self.principal = principal
        }
    }

    /// Within each bill, which part is paid first.
    public enum Order: String, Codable, Sendable, CaseIterable {
        /// 先滞纳金后本金: the common rule, and the default.
        case lateFeeFirst = "late_fee_first"
        case principalFirst = "principal_first"
    }

    public enum Part: String, Sendable, Hashable {
        case lateFee = "bill_late_fee"
        case principal = "bill_principal"
    }

    public struct Allocation: Sendable, Hashable {
        public var billId: String
        public var part: Part
        public var amount: Int64

        public init(billId: String, part: Part, amount: Int64) {
            self.billId = billId
            self.part = part
            self.amount = amount
        }
    }

    /// Spreads `amount` over `debts` in the order given (the caller passes chosen bills in the payer's order, or all
    /// open bills oldest first). Returns the allocations and what is left over (the excess, which goes to a wallet).
    /// The allocations and the excess always sum to `amount`.
    public static func allocate(_ amount: Int64, over debts: [Debt], order: Order = .lateFeeFirst) -> (allocations: [Allocation], excess: Int64) {
        var left = max(0, amount)
        var allocations: [Allocation] = []
        for debt in debts {
            let parts: [(Part, Int64)] =
                order == .lateFeeFirst
                ? [(.lateFee, debt.lateFee), (.principal, debt.principal)]
                : [(.principal, debt.principal), (.lateFee, debt.lateFee)]
            for (part, owed) in parts where owed > 0 && left > 0 {
                let take = min(owed, left)
                allocations.append(Allocation(billId: debt.billId, part: part, amount: take))
                left -= take
            }
            if left == 0 { break }
        }
        return (allocations, left)
    }
}
