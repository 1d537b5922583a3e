import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A bill as an owner or a clerk reads it: the bill, its lines, and its late fees as of a date.
public struct BillDocument: Encodable, Sendable {
    /// The late fee of one line's unpaid principal.
    public struct LateFee: Codable, Sendable, Hashable {
        public var lineId: String
        public var feeItemId: String
        public var principal: Money
        public var daysOverdue: Int
        public var fee: Money
        public var capped: Bool
        public var explanation: String
    }

    public var bill: Bill
    public var lines: [BillLine]
    public var asOf: LocalDate
    public var lateFees: [LateFee]
    public var lateFeeTotal: Money
    /// A finance user waived the late fees (who and why are on the bill and in the audit log).
    public var lateFeeWaived: Bool
    /// Each line's fee item by id (code and name), so a line reads "电费 electricity", not an id.
    public var feeItems: [String: FeeItemName] = [:]

    /// The name a bill line shows for its fee item.
    public struct FeeItemName: Codable, Sendable, Hashable {
        public var code: String
        public var name: String
    }

    /// A line as the API sends it: the stored line and its fee item's code and name.
    struct NamedLine: Encodable {
        var line: BillLine
        var item: FeeItemName?
        enum Keys: String, CodingKey { case feeItemCode, feeItemName }
        func encode(to encoder: any Encoder) throws {
            try line.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encodeIfPresent(item?.code, forKey: .feeItemCode)
            try container.encodeIfPresent(item?.name, forKey: .feeItemName)
        }
    }

    enum CodingKeys: String, CodingKey { case bill, lines, asOf, lateFees, lateFeeTotal, lateFeeWaived, amountDue }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(bill, forKey: .bill)
        try c.encode(lines.map { NamedLine(line: $0, item: feeItems[$0.feeItemId]) }, forKey: .lines)
        try c.encode(asOf, forKey: .asOf)
        try c.encode(lateFees, forKey: .lateFees)
        try c.encode(lateFeeTotal, forKey: .lateFeeTotal)
        try c.encode(lateFeeWaived, forKey: .lateFeeWaived)
        try c.encode(amountDue, forKey: .amountDue)
    }
    /// Unpaid principal plus late fees not waived.
    public var amountDue: Money

    /// Computes a bill's document as of `asOf` (the community's local date). Deterministic: the same inputs give the same fees.
    ///
    /// `lateFeesSettledThrough` is the last day whose late fees a payment already settled: fees accrue again only
    /// from the day after, on the principal still unpaid.
    public static func make(
        bill: Bill, lines: [BillLine], items: [String: FeeItem], asOf: LocalDate,
        lateFeesSettledThrough: LocalDate? = nil
    ) -> BillDocument {
        let currency = Currency.supported[bill.currency] ?? .cny
        let outstanding = max(0, bill.totalAmount - bill.paidAmount)
        // Unpaid principal per positive line, in proportion to its amount (exact split).
        let positive = lines.filter { $0.amount > 0 }
        let unpaid =
            bill.status == .cancelled || positive.isEmpty
            ? positive.map { _ in Int128(0) }
            : Allocation.largestRemainder(
                total: Int128(min(outstanding, positive.reduce(0) { $0 + $1.amount })),
                weights: positive.map { Int128($0.amount) })
        var fees: [LateFee] = []
        for (line, principal) in zip(positive, unpaid) where principal > 0 {
            guard var policy = items[line.feeItemId]?.lateFeePolicy else { continue }
            if let settled = lateFeesSettledThrough {
                let resume = settled.adding(days: 1)
                if policy.startsOn.map({ $0 < resume }) ?? true { policy.startsOn = resume }
            }
            let money = Money(minorUnits: Int64(principal), currency: currency)
            let assessment = policy.assess(principal: money, dueDate: bill.dueDate, asOf: asOf)
            guard assessment.fee.minorUnits > 0 else { continue }
            fees.append(
                LateFee(
                    lineId: line.id, feeItemId: line.feeItemId, principal: money, daysOverdue: assessment.daysOverdue,
                    fee: assessment.fee, capped: assessment.capped, explanation: assessment.explanation))
        }
        let total = fees.reduce(0) { $0 + $1.fee.minorUnits }
        let waived = bill.lateFeeWaivedBy != nil
        return BillDocument(
            bill: bill, lines: lines, asOf: asOf, lateFees: fees, lateFeeTotal: Money(minorUnits: total, currency: currency),
            lateFeeWaived: waived,
            feeItems: items.mapValues { FeeItemName(code: $0.code, name: $0.name) },
            amountDue: Money(minorUnits: outstanding + (waived || bill.status == .cancelled ? 0 : total), currency: currency))
    }

    /// Loads and computes the document of `billId` within `store`'s scope; `nil` when the bill is not visible.
    public static func load(_ store: ScopedStore, billId: String, asOf: LocalDate?, now: Date) async throws -> BillDocument? {
        guard let bill = try await store.find(Bill.self, id: billId) else { return nil }
        let lines = try await store.all(BillLine.self, where: "bill_id", in: [bill.id])
        let items = try await store.all(FeeItem.self, where: "id", in: Array(Set(lines.map(\.feeItemId))))
        let community = try await store.get(Community.self, id: bill.communityId)
        return make(
            bill: bill, lines: lines.sorted { $0.id < $1.id }, items: Dictionary(uniqueKeysWithValues: items.map { ($0.id, $0) }),
            asOf: asOf ?? LocalDate.of(now, timeZone: community.timeZone),
            lateFeesSettledThrough: try await lateFeesSettledThrough(store, billId: bill.id))
    }

    /// The last day whose late fees payments settled for a bill (`bill_late_fee_settlements`), if any.
    public static func lateFeesSettledThrough(_ store: ScopedStore, billId: String) async throws -> LocalDate? {
        let row = try await store.sql.select(
            "MAX(settled_through) AS through", from: "bill_late_fee_settlements",
            where: "bill_id = \(bind: billId)"
        ).first()
        return try row.flatMap { try RowReader($0, table: "bill_late_fee_settlements").optionalString("through") }.flatMap { LocalDate($0) }
    }
}
