import CourtyardBilling
import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Testing

@Suite("Bill runs")
struct BillRunTests {
    @Test(
        "October's bills: per-m² pro-rated by owned days, tiered electricity, annual water position, 公摊 by area, parking (with the engine's fast paths and without: the same bills and postings)",
        arguments: TestEngine.available, [false, true])
    func octoberBills(engine: TestEngine, careful: Bool) async throws {
        try await BillingFixture.with(engine, fastPaths: careful ? .careful : .all) { f in
            #expect(await f.ledger.usesSQLiteFastPath == (engine == .sqlite && !careful))
            let summary = try await f.runner.run(
                companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false,
                actor: "test")
            let lines = try await f.lines()
            func line(_ house: Int, _ code: String) -> BillLine? {
                lines.first { $0.houseId == f.houses[house] && $0.feeItemId == f.items[code]!.id }
            }
            // H1: 100 m² × 2.5 = 250.00; 200 × 0.5 + 50 × 0.55 = 127.50; water from position 170: 10 × 5 + 10 × 7 = 120.00;
            // lift 1000 kWh × 0.6 = 600.00 × 100/240 = 250.00; parking 150.00.
            #expect(line(0, "property_fee")?.amount == 25_000)
            #expect(line(0, "electricity")?.amount == 12_750)
            #expect(line(0, "water")?.amount == 12_000)
            #expect(line(0, "water")?.basis.contains("annual position 170.000") == true)
            #expect(line(0, "lift")?.amount == 25_000)
            #expect(line(0, "lift")?.basis.contains("100.00/240.00 m² built") == true)
            #expect(line(0, "parking")?.amount == 15_000)
            // H2 moved in on the 17th: 80 × 2.5 = 200.00 × 15/31 = 96.774… → 96.77 (half up, once).
            #expect(line(1, "property_fee")?.amount == 9_677)
            #expect(line(1, "property_fee")?.billableDays == 15)
            #expect(line(1, "property_fee")?.basis.contains("15/31 days owned") == true)
            #expect(line(1, "electricity")?.amount == 6_000)
            #expect(line(1, "water") == nil)
            #expect(line(1, "lift")?.amount == 20_000)
            // H3 has no owner on record: charged the whole month; no electricity reading → skipped, not zero.
            #expect(line(2, "property_fee")?.amount == 15_000)
            #expect(line(2, "electricity") == nil)
            #expect(line(2, "lift")?.amount == 15_000)
            // The lift's shares add up exactly to the meter's cost.
            #expect([0, 1, 2].compactMap { line($0, "lift")?.amount }.reduce(0, +) == 60_000)
            #expect(summary.skipped["water: missing_usage"] == 2)
            #expect(summary.skipped["electricity: missing_usage"] == 1)

            let bills = try await f.bills()
            #expect(bills.count == 3)
            let h1 = try #require(bills.first { $0.houseId == f.houses[0] })
            #expect(h1.totalAmount == 25_000 + 12_750 + 12_000 + 25_000 + 15_000)
            #expect(h1.issueDate == LocalDate("2026-11-01"))
            #expect(h1.dueDate == LocalDate("2026-11-11"), "the earliest due day of its items (parking: 10 days)")
            #expect(h1.status == .open)
            #expect(bills.allSatisfy { $0.postedAt != nil })
            #expect(line(0, "property_fee")?.standardVersion == 1)

            // Posted to the ledger: each house's receivable holds its bill; revenue per item; the trial balance nets to zero.
            for bill in bills {
                #expect(
                    try await f.balance(.init(communityId: f.community, kind: .receivable, owner: bill.houseId, purpose: "fees")) == bill.totalAmount)
            }
            #expect(try await f.balance(.community(f.community, .revenue, purpose: "lift")) == 60_000)
            let trial = try await f.database.read { db in
                try await LedgerStore(db, companyId: f.companyId, engine: f.database.engine).trialBalance(community: f.community)
            }
            #expect(trial.reduce(0) { $0 + $1.debits - $1.credits } == 0)
            #expect(summary.totalAmount.minorUnits == bills.reduce(0) { $0 + $1.totalAmount })
        }
    }

    @Test("A rerun creates nothing new and posts nothing twice", arguments: TestEngine.available)
    func rerunIsIdempotent(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            let first = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            let linesBefore = try await f.count("bill_lines")
            let entriesBefore = try await f.count("ledger_entries")
            let second = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            #expect(second.linesCreated == 0)
            #expect(second.billsCreated == 0)
            #expect(second.linesAlreadyBilled == first.linesCreated)
            #expect(try await f.count("bill_lines") == linesBefore)
            #expect(try await f.count("ledger_entries") == entriesBefore)
        }
    }

    @Test("A preview returns the totals and writes nothing", arguments: TestEngine.available)
    func previewWritesNothing(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            let preview = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: true, actor: "test")
            #expect(preview.runId == nil)
            #expect(try await f.count("bills") == 0)
            #expect(try await f.count("bill_runs") == 0)
            #expect(try await f.count("ledger_entries") == 0)
            let real = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            #expect(preview.totalAmount == real.totalAmount)
            #expect(preview.linesCreated == real.linesCreated)
        }
    }

    @Test("A month that has not ended may only be previewed", arguments: TestEngine.available)
    func openPeriodRefused(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            await #expect(throws: BillRunError.periodNotClosed(period: "2026-11", closesOn: LocalDate("2026-12-01")!)) {
                try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-11", preview: false, actor: "test")
            }
            await #expect(throws: BillRunError.notAMonth("2026-Q4")) {
                try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-Q4", preview: false, actor: "test")
            }
            #expect(try await f.count("bill_runs") == 0)
            _ = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-11", preview: true, actor: "test")
        }
    }

    @Test("Another company cannot bill this community", arguments: TestEngine.available)
    func tenantIsolation(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            await #expect(throws: BillRunError.unknownCommunity(f.community)) {
                try await f.runner.run(companyId: f.otherCompanyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            }
            let bills = try await f.count("bills")
            #expect(bills == 0)
        }
    }

    @Test("Bills committed but not posted (a crash between the two) are posted by the next run", arguments: TestEngine.available)
    func unpostedBillsArePostedLater(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            let withoutLedger = BillRunner(database: f.database, ledger: nil, clock: f.clock)
            _ = try await withoutLedger.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            #expect(try await f.count("ledger_entries") == 0)
            let next = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: false, actor: "test")
            #expect(next.billsPosted == 3)
            #expect(next.linesCreated == 0)
            #expect(try await f.count("ledger_entries") == (try await f.count("bill_lines")))
        }
    }

    @Test("The demo company is set up for billing: last month previews with every fee item and no gaps", arguments: TestEngine.available)
    func demoIsBillable(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let clock = ManualClock(BillingFixture.afterOctober)
            let demo = try await DemoSeeder(
                companyCode: "billing-demo", buildingsPerCommunity: 2, unitsPerBuilding: 1, housesPerUnit: 6,
                bcryptCost: 4, clock: clock
            )
            .seed(database, hashPassword: { password, _ in "test-hash-\(password)" })
            let community = try await database.read { db in
                try await ScopedStore(db, scope: TenantScope(companyId: demo.companyId)).list(Community.self, limit: 1).items[0]
            }
            let summary = try await BillRunner(database: database, ledger: nil, clock: clock)
                .run(companyId: demo.companyId, communityId: community.id, period: "2026-10", preview: true, actor: "test")
            #expect(summary.billsCreated == 12)
            #expect(Set(summary.items.filter { $0.lines > 0 }.map(\.code)) == ["electricity", "gas", "lift", "parking", "property_fee", "water"])
            #expect(summary.itemsWithoutStandard.isEmpty)
            #expect(summary.skipped.keys.allSatisfy { $0.hasPrefix("property_fee") || $0.hasPrefix("parking") || $0.hasPrefix("lift") })
        }
    }
}
