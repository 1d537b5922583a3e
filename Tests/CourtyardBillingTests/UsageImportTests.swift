import CourtyardBilling
import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Testing

@Suite("Usage CSV import")
struct UsageImportTests {
    func importing(_ f: BillingFixture, _ csv: String) async throws -> UsageImport.Summary {
        try await f.database.transaction { db in
            try await UsageImport(store: ScopedStore(db, scope: f.scope), communityId: f.community, now: f.clock.now()).run(csv: csv)
        }
    }

    @Test("good rows are imported once; a re-import changes nothing", arguments: TestEngine.available)
    func importsOnce(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            let csv = """
                subject_kind,subject_id,usage_kind,period,quantity,windows
                house,\(f.houses[2]),electricity,2026-10,180.5,peak=100;valley=80.5
                house,\(f.houses[2]),water,2026-10,12,
                """
            #expect(try await importing(f, csv) == UsageImport.Summary(imported: 2, unchanged: 0))
            #expect(try await importing(f, csv) == UsageImport.Summary(imported: 0, unchanged: 2))
            let summary = try await f.runner.run(companyId: f.companyId, communityId: f.community, period: "2026-10", preview: true, actor: "t")
            #expect(summary.skipped["electricity: missing_usage"] == nil, "H3's imported electricity is billed")
        }
    }

    @Test("any bad row names its line and column, and nothing is written", arguments: TestEngine.available)
    func badRowsWriteNothing(engine: TestEngine) async throws {
        try await BillingFixture.with(engine) { f in
            let before = try await f.count("usage_records")
            let csv = """
                subject_kind,subject_id,usage_kind,period,quantity,windows
                house,\(f.houses[2]),electricity,2026-10,10,
                house,no-such-house,electricity,2026-10,10,
                house,\(f.houses[2]),gas,2026-Q4,10,
                house,\(f.houses[2]),water,2026-10,10,peak=3;valley=3
                house,\(f.houses[0]),electricity,2026-10,999,
                house,\(f.houses[1]),electricity,2026-10,-1,
                """
            do {
                _ = try await importing(f, csv)
                Issue.record("the import should have failed")
            } catch UsageImport.Failure.problems(let problems) {
                #expect(problems.map { "\($0.line):\($0.column)" } == ["3:subject_id", "4:period", "5:windows", "6:quantity", "7:quantity"])
            }
            #expect(try await f.count("usage_records") == before)
            do {
                _ = try await importing(f, "subject_id,period\n")
                Issue.record("a file without the required columns should fail")
            } catch UsageImport.Failure.problems(let problems) {
                #expect(problems.map(\.column) == ["subject_kind", "usage_kind", "quantity"])
            }
        }
    }
}
