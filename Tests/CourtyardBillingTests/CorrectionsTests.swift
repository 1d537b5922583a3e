import CourtyardBilling
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Testing

@Suite("Corrections, late fees and reminders")
struct CorrectionsTests {
    func october(_ f: BillingFixture) async throws {
        _ = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
    }

    func usageId(_ f: BillingFixture, house: Int, kind: UsageKind, period: String) async throws -> String {
        try await f.database.read { db in
            try await ScopedStore(db, scope: f.scope).list(
                UsageRecord.self,
                filters: [
                    ("subject_id", f.houses[house]),
                    ("usage_kind", kind.rawValue), ("period", period),
                ],
                limit: 1
            ).items[0].id
        }
    }

    func correct(_ f: BillingFixture, _ body: @Sendable (Corrections) async throws -> Corrections.Result) async throws -> Corrections.Result {
        let result = try await f.database.transaction { db in
            try await body(Corrections(store: ScopedStore(db, scope: f.scope), actor: "finance-user", now: f.clock.now()))
        }
        let items = Dictionary(uniqueKeysWithValues: f.items.values.map { ($0.id, $0) })
        _ = try await f.runner.post(
            bills: result.billsChanged, lines: result.adjustments.filter { $0.billId != nil },
            companyId: f.companyId, items: items)
        return result
    }

    @Test(
        "Correcting usage on an open bill adds a credit line to that bill, posts it, and audits before/after",
        arguments: TestEngine.available)
    func correctionOnOpenBill(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await october(f)
            let id = try await usageId(f, house: 0, kind: .electricity, period: "2026-10")
            let result = try await correct(f) {
                try await $0.correctUsage(
                    id: id, quantity: Quantity(milliUnits: 230_000), windows: nil,
                    reason: "misread digit")
            }
            // 250 kWh billed 127.50; 230 kWh is 200 × 0.5 + 30 × 0.55 = 116.50: a credit of 11.00 on the same bill.
            let adjustment = try #require(result.adjustments.first)
            #expect(result.adjustments.count == 1)
            #expect(adjustment.amount == -1_100)
            #expect(adjustment.kind == .adjustment)
            let original = try #require(
                try await f.lines().first { $0.houseId == f.houses[0] && $0.feeItemId == f.items["electricity"]!.id && $0.kind == .charge })
            #expect(adjustment.adjustsLineId == original.id)
            #expect(original.amount == 12_750, "the original line is never edited")
            let bill = try #require(try await f.bills().first { $0.houseId == f.houses[0] })
            #expect(adjustment.billId == bill.id)
            #expect(bill.totalAmount == 89_750 - 1_100)
            #expect(try await f.balance(.init(communityId: f.community, kind: .receivable, owner: f.houses[0], purpose: "fees")) == 88_650)
            let audit = try await f.database.read { db in
                try await ScopedStore(db, scope: f.scope).list(AuditEntry.self, filters: [("subject_id", id)], limit: 10).items
            }
            #expect(audit.count == 1)
            #expect(audit.first?.actor == "finance-user")
            #expect(audit.first?.reason == "misread digit")
            #expect(audit.first?.beforeState?.contains("\"quantity\":\"250.000\"") == true)
            #expect(audit.first?.afterState?.contains("\"quantity\":\"230.000\"") == true)
            // Correcting to the same figure again changes nothing.
            let again = try await correct(f) {
                try await $0.correctUsage(
                    id: id, quantity: Quantity(milliUnits: 230_000), windows: nil,
                    reason: "checked twice")
            }
            #expect(again.adjustments.isEmpty)
        }
    }

    @Test("A paid bill is never edited: the adjustment waits for the next run's bill", arguments: TestEngine.available)
    func correctionAfterPayment(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await october(f)
            var bill = try #require(try await f.bills().first { $0.houseId == f.houses[0] })
            bill.paidAmount = bill.totalAmount
            bill.status = .paid
            try await f.database.transaction { [bill] db in try await ScopedStore(db, scope: f.scope).update(bill) }
            let id = try await usageId(f, house: 0, kind: .electricity, period: "2026-10")
            let result = try await correct(f) {
                try await $0.correctUsage(
                    id: id, quantity: Quantity(milliUnits: 300_000), windows: nil,
                    reason: "late reading")
            }
            // 300 kWh: 100 + 100 × 0.55 = 155.00, 27.50 more than billed.
            #expect(result.adjustments.map(\.amount) == [2_750])
            #expect(result.adjustments.first?.billId == nil)
            let paid = try #require(try await f.bills().first { $0.id == bill.id })
            #expect(paid.totalAmount == bill.totalAmount)

            f.clock.advance(seconds: 12 * 86_400)  // into December: November has closed
            let november = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-11", preview: false, actor: "test")
            #expect(november.adjustmentsBilled == 1)
            let next = try #require(try await f.bills().first { $0.houseId == f.houses[0] && $0.period == BillingPeriod("2026-11")! })
            let lines = try await f.lines().filter { $0.billId == next.id }
            #expect(lines.contains { $0.kind == .adjustment && $0.amount == 2_750 && $0.period == BillingPeriod("2026-10")! })
            #expect(next.totalAmount == lines.reduce(0) { $0 + $1.amount })
            let receivable = try await f.balance(.init(communityId: f.community, kind: .receivable, owner: f.houses[0], purpose: "fees"))
            #expect(receivable == 89_750 + next.totalAmount, "October (paid outside the ledger in this test) plus November")
        }
    }

    @Test("Correcting an earlier month moves the annual tier position of later bills", arguments: TestEngine.available)
    func annualTierFollowsCorrection(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await october(f)
            let september = try await usageId(f, house: 0, kind: .water, period: "2026-09")
            let result = try await correct(f) {
                try await $0.correctUsage(
                    id: september, quantity: Quantity(milliUnits: 30_000), windows: nil,
                    reason: "meter replaced")
            }
            // October started at 170 m³ (10 × 5 + 10 × 7 = 120.00); now at 190 m³: 20 × 7 = 140.00.
            #expect(result.adjustments.map(\.amount) == [2_000])
            #expect(result.adjustments.first?.period == BillingPeriod("2026-10"))
        }
    }

    @Test(
        "Late fees: principal × daily rate × days after grace, as of a date; a waiver is approved once and audited",
        arguments: TestEngine.available)
    func lateFeesAndWaiver(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await october(f)
            let bill = try #require(try await f.bills().first { $0.houseId == f.houses[0] })
            let document = try #require(
                try await f.database.read { db in
                    try await BillDocument.load(ScopedStore(db, scope: f.scope), billId: bill.id, asOf: LocalDate("2026-11-26"), now: f.clock.now())
                })
            // Due 2026-11-11, 5 grace days: 10 days overdue on 11-26. Property fee 250.00 × 0.05% × 10 = 1.25.
            let property = try #require(document.lateFees.first { $0.feeItemId == f.items["property_fee"]!.id })
            #expect(property.daysOverdue == 10)
            #expect(property.fee.minorUnits == 125)
            #expect(document.amountDue.minorUnits == bill.totalAmount + document.lateFeeTotal.minorUnits)
            let early = try #require(
                try await f.database.read { db in
                    try await BillDocument.load(ScopedStore(db, scope: f.scope), billId: bill.id, asOf: LocalDate("2026-11-16"), now: f.clock.now())
                })
            #expect(early.lateFees.isEmpty)

            _ = try await f.database.transaction { db in
                try await BillingActions.waiveLateFees(
                    ScopedStore(db, scope: f.scope), billId: bill.id, actor: "finance-user",
                    reason: "hospitalised owner", now: f.clock.now())
            }
            let waived = try #require(
                try await f.database.read { db in
                    try await BillDocument.load(ScopedStore(db, scope: f.scope), billId: bill.id, asOf: LocalDate("2026-11-26"), now: f.clock.now())
                })
            #expect(waived.lateFeeWaived)
            #expect(waived.amountDue.minorUnits == bill.totalAmount)
            await #expect(throws: BillingActionError.alreadyWaived(billId: bill.id, by: "finance-user")) {
                try await f.database.transaction { db in
                    try await BillingActions.waiveLateFees(
                        ScopedStore(db, scope: f.scope), billId: bill.id, actor: "other", reason: "again",
                        now: f.clock.now())
                }
            }
            await #expect(throws: BillingActionError.reasonRequired) {
                try await f.database.transaction { db in
                    try await BillingActions.waiveLateFees(
                        ScopedStore(db, scope: f.scope), billId: bill.id, actor: "x", reason: "  ",
                        now: f.clock.now())
                }
            }
            let audit = try await f.database.read { db in
                try await ScopedStore(db, scope: f.scope).list(AuditEntry.self, filters: [("subject_id", bill.id)], limit: 10).items
            }
            #expect(audit.map(\.action) == ["late_fee_waived"])
        }
    }

    @Test("Reminders: due soon once, overdue once a week, nothing new on a rerun", arguments: TestEngine.available)
    func reminders(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await october(f)
            func remind(_ date: String) async throws -> BillingActions.ReminderSummary {
                try await f.database.transaction { db in
                    try await BillingActions.remind(
                        ScopedStore(db, scope: f.scope), communityId: f.community, asOf: LocalDate(date)!,
                        now: f.clock.now())
                }
            }
            // All three bills are due 2026-11-11 (H1: parking 10 days) or 2026-11-16 (15 days).
            let first = try await remind("2026-11-09")
            #expect(first.dueSoon == 1)
            #expect(try await remind("2026-11-09").dueSoon == 0)
            // 11-20: all three are overdue (H1 by 9 days, H2 and H3 by 4): the first weekly overdue reminder each.
            let overdue = try await remind("2026-11-20")
            #expect(overdue.overdue == 3)
            #expect(overdue.dueSoon == 0)
            // 11-24: H2 and H3 enter their second overdue week; H1's second week started on 11-19 and is already reminded.
            #expect(try await remind("2026-11-24").overdue == 2)
            #expect(try await remind("2026-11-24").overdue == 0)
        }
    }
}
