import CourtyardBilling
import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

/// A meter's usage is prepaid or postpaid, never both: the bill run leaves out what a prepaid plan charged, and says so.
@Suite("Bill runs and prepaid plans")
struct PrepaidBillingTests {
    /// Puts a prepaid electricity plan on `house` (created at `created`, ended at `ended` if given) with charges of
    /// `charges` (measured at, kWh) — the rows the prepaid module writes, inserted as it would.
    static func plan(
        _ f: BillingFixture, house: Int, created: String, ended: String? = nil,
        charges: [(String, String)] = []
    ) async throws {
        let formatter = ISO8601DateFormatter()
        let createdAt = formatter.date(from: created)!.epochMilliseconds
        let endedAt = ended.map { formatter.date(from: $0)!.epochMilliseconds }
        let measured = charges.map { (formatter.date(from: $0.0)!, $0.1) }
        try await f.database.transaction { db in
            let now = Date(epochMilliseconds: createdAt)
            let device = Device(
                id: Identifier.uuidV7(at: now), companyId: f.companyId, communityId: f.community,
                deviceKey: "prepaid-meter-\(house)", kind: .electricityMeter, protocol: .http, model: nil, address: nil,
                status: .active, createdAt: now, updatedAt: now)
            try await ScopedStore(db, scope: f.scope).insert(device)
            let planId = Identifier.uuidV7(at: now)
            try await db.raw(
                """
                INSERT INTO prepaid_plans (id, company_id, community_id, house_id, device_id, register, utility, config, status, created_by,
                                           created_at, updated_at)
                VALUES (\(bind: planId), \(bind: f.companyId), \(bind: f.community), \(bind: f.houses[house]), \(bind: device.id),
                        'energy_total', 'electricity', '{}', \(bind: endedAt == nil ? "active" : "ended"), 'test', \(bind: createdAt),
                        \(bind: endedAt ?? createdAt))
                """
            ).run()
            for (index, (measured, kWh)) in measured.enumerated() {
                let usage = try Quantity(parsing: kWh).milliUnits
                try await db.raw(
                    """
                    INSERT INTO prepaid_charges (id, company_id, community_id, plan_id, reading_id, kind, measured_at, local_day, period_key,
                                                 usage_milli, position_milli, time_window, exact, amount, rounding, carry_after,
                                                 from_wallets, to_shortfall, detail, created_at)
                    VALUES (\(bind: planId + "-\(index)"), \(bind: f.companyId), \(bind: f.community), \(bind: planId), \(bind: "r-\(index)"),
                            'reading', \(bind: measured.epochMilliseconds), \(bind: LocalDate.of(measured, timeZone: "Asia/Shanghai").description),
                            '2026-10', \(bind: usage), 0, NULL, 0, 0, 'half_up', 0, 0, 0, 'test', \(bind: measured.epochMilliseconds))
                    """
                ).run()
            }
        }
    }

    func line(_ f: BillingFixture, _ house: Int, _ code: String) async throws -> BillLine? {
        try await f.lines().first { $0.houseId == f.houses[house] && $0.feeItemId == f.items[code]!.id }
    }

    @Test("a meter prepaid all period gets a zero line saying so, not a postpaid charge", arguments: TestEngine.available)
    func prepaidAllPeriod(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await Self.plan(f, house: 0, created: "2026-09-15T04:00:00Z", charges: [("2026-10-10T02:00:00Z", "90")])
            let summary = try await f.runner.run(
                companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false,
                actor: "test")
            let electricity = try #require(try await line(f, 0, "electricity"))
            #expect(electricity.amount == 0)
            #expect(electricity.basis.contains("prepaid all period"))
            #expect(electricity.basis.contains("90.000 kWh charged to the prepaid wallet"))
            #expect(summary.skipped["electricity: prepaid_all_period"] == 1)
            // Other houses and other utilities are billed as before.
            #expect(try await line(f, 0, "water")?.amount == 12_000)
            #expect(try await line(f, 1, "electricity")?.amount == 6_000)
        }
    }

    @Test(
        "a plan that starts mid-period leaves out exactly what it charged; the line states the days and the quantity",
        arguments: TestEngine.available)
    func planStartsMidPeriod(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            // Created 20 October 10:00 in Shanghai: 12 of 31 days prepaid; 70 kWh charged in October, 5 kWh in November.
            try await Self.plan(
                f, house: 1, created: "2026-10-20T02:00:00Z",
                charges: [("2026-10-21T02:00:00Z", "40"), ("2026-10-31T15:59:59Z", "30"), ("2026-10-31T16:00:00Z", "5")])
            _ = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            let electricity = try #require(try await line(f, 1, "electricity"))
            // 120 kWh recorded − 70 charged prepaid = 50 kWh × 0.50 = 25.00.
            #expect(electricity.quantity == Quantity(milliUnits: 50_000))
            #expect(electricity.amount == 2_500)
            #expect(electricity.basis.contains("prepaid on 12 of 31 days (plan from 2026-10-20)"))
            #expect(electricity.basis.contains("70.000 kWh charged prepaid left out of 120.000 kWh recorded"))
        }
    }

    @Test("a plan that ended in the period covers its days up to the end; usage after it is billed", arguments: TestEngine.available)
    func planEndsMidPeriod(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            try await Self.plan(
                f, house: 0, created: "2026-09-01T00:00:00Z", ended: "2026-10-05T04:00:00Z",
                charges: [("2026-09-30T02:00:00Z", "25"), ("2026-10-03T02:00:00Z", "30")])
            _ = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            let electricity = try #require(try await line(f, 0, "electricity"))
            // 250 − 30 = 220 kWh: 200 × 0.50 + 20 × 0.55 = 111.00.
            #expect(electricity.amount == 11_100)
            #expect(electricity.basis.contains("prepaid on 5 of 31 days"))
        }
    }
}
