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

/// The file reader on its own, without a database (it is also a fuzz target: `scripts/fuzz usage-csv`).
@Suite("Usage CSV reader")
struct UsageCSVReaderTests {
    static func parse(_ text: String) -> (records: [(line: Int, record: UsageRecord)], problems: [UsageImport.Problem]) {
        UsageImport.parse(csv: text, companyId: "c", communityId: "k", now: Date(timeIntervalSince1970: 1_790_000_000))
    }

    @Test("quoted fields with commas and line breaks, a byte-order mark, CRLF endings and blank lines read as rows on their lines")
    func quoting() {
        let text = "\u{FEFF}subject_kind,subject_id,usage_kind,period,quantity,estimated\r\n"
            + "house,\"h,1\",electricity,2026-10, 253.4 ,yes\r\n"
            + "   ,  \r\n"
            + "device,\"d\n2\",water,2026-10,12.345,\n"
        let (records, problems) = Self.parse(text)
        #expect(problems.isEmpty)
        #expect(records.map(\.line) == [2, 4])
        #expect(records.map(\.record.subjectId) == ["h,1", "d\n2"])
        #expect(records.map(\.record.quantity.milliUnits) == [253_400, 12_345])
        #expect(records.map(\.record.estimated) == [true, false])
        #expect(records.allSatisfy { $0.record.companyId == "c" && $0.record.communityId == "k" && $0.record.id.isEmpty })
    }

    @Test("window figures too large to add up are a problem on their line, not a trap")
    func windowsOverflow() {
        let text = """
            subject_kind,subject_id,usage_kind,period,quantity,windows
            house,h1,electricity,2026-10,9223372036854775.807,peak=9223372036854775.807;valley=9223372036854775.807
            """
        let (_, problems) = Self.parse(text)
        #expect(problems.map { "\($0.line):\($0.column)" } == ["2:windows"])
    }

    @Test("an empty file, or one of blank lines, is a problem on line 1")
    func empty() {
        for text in ["", "\n\n", " , \n"] {
            #expect(Self.parse(text).problems.map { "\($0.line):\($0.column)" } == ["1:header"])
        }
    }
}
