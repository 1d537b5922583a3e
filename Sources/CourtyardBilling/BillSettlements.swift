import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// What payments do to bills, written by the module that owns them: paid principal and status, late fees settled through
/// a day, and a house's open debts as of a day (late fees read from each bill's own document, so a payment settles
/// exactly what the owner was shown). Payments reaches it through its `Receivables` port, which the composition root
/// fills with this type; it never reads or writes bills itself.
public struct BillSettlements: Sendable {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// An unpaid bill as a debt on a day: its late fee (zero when waived) and its unpaid principal.
    public struct OpenBill: Sendable, Hashable {
        public var billId: String
        public var period: String
        public var lateFee: Int64
        public var principal: Int64
    }

    /// The open bills a payment settles, in order: the chosen bills of the house (in the order given), or every unpaid
    /// bill of the house, oldest due first. Bills of other houses and paid or cancelled bills are left out.
    public func openBills(houseId: String, chosen: [String]?, asOf day: LocalDate) async throws -> [OpenBill] {
        let store = tenant.store
        var bills: [Bill]
        if let chosen, !chosen.isEmpty {
            let found = Dictionary(uniqueKeysWithValues: try await store.all(Bill.self, where: "id", in: chosen).map { ($0.id, $0) })
            bills = chosen.compactMap { found[$0] }.filter { $0.houseId == houseId }
        } else {
            bills = try await store.listAll(Bill.self, filters: [("house_id", houseId)])
            bills.sort { ($0.dueDate, $0.period.description, $0.id) < ($1.dueDate, $1.period.description, $1.id) }
        }
        bills = bills.filter { $0.status == .open || $0.status == .partiallyPaid }
        guard !bills.isEmpty else { return [] }
        let lines = try await store.all(BillLine.self, where: "bill_id", in: bills.map(\.id))
        let items = Dictionary(
            uniqueKeysWithValues: try await store.all(FeeItem.self, where: "id", in: Array(Set(lines.map(\.feeItemId))))
                .map { ($0.id, $0) })
        let linesByBill = Dictionary(grouping: lines, by: { $0.billId ?? "" })
        var open: [OpenBill] = []
        for bill in bills {
            let settled = try await BillDocument.lateFeesSettledThrough(store, billId: bill.id)
            let document = BillDocument.make(
                bill: bill, lines: (linesByBill[bill.id] ?? []).sorted { $0.id < $1.id }, items: items, asOf: day,
                lateFeesSettledThrough: settled)
            open.append(
                OpenBill(
                    billId: bill.id, period: bill.period.description, lateFee: document.lateFeeWaived ? 0 : document.lateFeeTotal.minorUnits,
                    principal: max(0, bill.totalAmount - bill.paidAmount)))
        }
        return open
    }

    /// Adds (or, negative, takes back) paid principal; the status follows. Cancelled bills are left alone.
    public func addPaid(_ amount: Int64, to billId: String, now: Date) async throws {
        try await tenant.update(
            "bills",
            set: """
                paid_amount = paid_amount + \(bind: amount),
                status = CASE WHEN paid_amount + \(bind: amount) >= total_amount THEN 'paid'
                              WHEN paid_amount + \(bind: amount) > 0 THEN 'partially_paid' ELSE 'open' END,
                updated_at = \(bind: now.epochMilliseconds)
                """, where: "id = \(bind: billId) AND status <> 'cancelled'"
        ).run()
    }

    /// Records that `paymentId` paid `amount` of a bill's late fees accrued through `day`: fees accrue again from the day after.
    public func settleLateFees(billId: String, paymentId: String, through day: LocalDate, amount: Int64) async throws {
        try await tenant.insert(
            into: "bill_late_fee_settlements", columns: ["bill_id", "payment_id", "settled_through", "amount"],
            values: [billId, paymentId, day.description, amount]
        ).run()
    }

    /// Undoes ``settleLateFees(billId:paymentId:through:amount:)`` of a voided payment.
    public func unsettleLateFees(billId: String, paymentId: String) async throws {
        try await tenant.delete(from: "bill_late_fee_settlements", where: "bill_id = \(bind: billId) AND payment_id = \(bind: paymentId)").run()
    }

    /// How many bills of a house are unpaid past their due date on `day`.
    public func overdueCount(houseId: String, on day: LocalDate) async throws -> Int64 {
        try await tenant.select(
            "COUNT(*) AS n", from: "bills",
            where: """
                house_id = \(bind: houseId) AND status IN ('open', 'partially_paid') AND due_date < \(bind: day.description)
                """
        ).first().map { try RowReader($0, table: "bills").int64("n") } ?? 0
    }
}
