import CourtyardDomain
import CourtyardSQLite
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

@Suite("Bulk writer")
struct BulkWriterTests {
    static func line(_ company: String, basis: String, unit: String? = nil) -> BillLine {
        BillLine(
            id: Identifier.uuidV7(at: Date()), companyId: company, communityId: "c", billId: nil, houseId: "h", feeItemId: "f",
            period: BillingPeriod("2026-10")!, kind: .adjustment, standardId: "s", standardVersion: 1, quantity: nil, unit: unit,
            unitPrice: UnitPrice(tenThousandths: 25_000), basis: basis,
            breakdown: [
                QuoteLine(
                    description: "tab\there \"quoted\" back\\slash", tier: 1, window: nil, quantity: nil, unitPrice: nil,
                    exact: ExactAmount(tenMillionths: 5))
            ],
            exact: ExactAmount(tenMillionths: -12_345), rounding: "half_up", billableDays: 15, periodDays: 31, amount: -1_100,
            adjustsLineId: nil, createdAt: Date(epochMilliseconds: 1_795_312_800_000))
    }

    /// Writes company A's `lines` through the bulk writer on a fresh database, then hands the database, scope and lines to `check`.
    static func written(
        _ lines: (String) -> [BillLine], on engine: TestEngine,
        check: (Database, TenantScope, [BillLine]) async throws -> Void
    ) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            let written = lines(companies.a.companyId)
            try await BulkWriter(database: database, scope: scope).write([.init(written)])
            try await check(database, scope, written)
        }
    }

    @Test(
        "rows round-trip exactly, whatever characters they hold (COPY escapes on PostgreSQL), NULLs included",
        arguments: TestEngine.available)
    func roundTrip(engine: TestEngine) async throws {
        try await Self.written(
            { company in
                [Self.line(company, basis: "tab\tnewline\nreturn\rbackslash\\N end \\\\ 公摊 ✓", unit: "m³"), Self.line(company, basis: "\\N")]
            }, on: engine
        ) { database, scope, lines in
            let stored = try await database.read { db in try await ScopedStore(db, scope: scope).all(BillLine.self, where: "house_id", in: ["h"]) }
            #expect(stored.sorted { $0.id < $1.id } == lines.sorted { $0.id < $1.id })
        }
    }

    @Test(
        "empty text stays empty text and NULL stays NULL (text is bound in place, so '' needs a pointer of its own)",
        arguments: TestEngine.available)
    func emptyTextIsNotNull(engine: TestEngine) async throws {
        try await Self.written(
            { company in
                [Self.line(company, basis: "", unit: ""), Self.line(company, basis: "x", unit: nil)]
            }, on: engine
        ) { database, _, _ in
            let rows = try await database.read { db in
                try await db.raw("SELECT basis, CASE WHEN unit IS NULL THEN 1 ELSE 0 END AS unit_is_null FROM bill_lines ORDER BY basis").all()
            }
            #expect(try rows.map { try $0.decode(column: "basis", as: String.self) } == ["", "x"])
            #expect(try rows.map { try $0.decode(column: "unit_is_null", as: Int.self) } == [0, 1])
        }
    }

    @Test("the fast row of bills and lines holds exactly their storage row", arguments: [false, true])
    func fastRowsMatchStorageRows(adjustment: Bool) {
        var line = Self.line("company", basis: "电梯公摊 464.94 CNY × 132.58/23142.98 m²", unit: adjustment ? nil : "kWh")
        line.billId = adjustment ? nil : "bill"
        line.adjustsLineId = adjustment ? "earlier" : nil
        line.quantity = adjustment ? nil : Quantity(milliUnits: 503_425)
        let bill = Bill(
            id: "b", companyId: "company", communityId: "c", houseId: "h", billRunId: "r", period: BillingPeriod("2026-10")!,
            issueDate: LocalDate(year: 2026, month: 10, day: 31)!, dueDate: LocalDate(year: 2026, month: 11, day: 15)!,
            currency: "CNY", totalAmount: 29_839, paidAmount: 0, status: .open, postedAt: adjustment ? Date(epochMilliseconds: 7) : nil,
            lateFeeWaivedBy: adjustment ? "finance" : nil, lateFeeWaiverReason: nil, createdAt: Date(epochMilliseconds: 1),
            updatedAt: Date(epochMilliseconds: 2))
        func cells<R: BulkRecord>(_ record: R) -> [StorageValue] {
            var buffer = RowBuffer(width: R.columns.count)
            record.appendRow(to: &buffer)
            #expect(buffer.rowCount == 1 && buffer.cells.count == R.columns.count)
            return (0..<R.columns.count).map { buffer.value(row: 0, column: $0) }
        }
        #expect(cells(line) == line.storageRow)
        #expect(cells(bill) == bill.storageRow)
    }

    @Test("a company id that only starts like the scope's is another company", arguments: TestEngine.available)
    func scopeComparesWholeIds(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let writer = try BulkWriter(database: database, scope: TenantScope(companyId: companies.a.companyId))
            await #expect(throws: StorageError.outOfScope) {
                try await writer.write([.init([Self.line(companies.a.companyId + "x", basis: "longer")])])
            }
            await #expect(throws: StorageError.outOfScope) {
                try await writer.write([.init([Self.line(String(companies.a.companyId.dropLast()), basis: "shorter")])])
            }
        }
    }

    @Test("a row of another company is refused and nothing is written", arguments: TestEngine.available)
    func scopeIsEnforced(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let writer = try BulkWriter(database: database, scope: TenantScope(companyId: companies.a.companyId))
            await #expect(throws: StorageError.outOfScope) {
                try await writer.write([.init([Self.line(companies.a.companyId, basis: "ok"), Self.line(companies.b.companyId, basis: "theirs")])])
            }
            let count = try await database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM bill_lines").first()!.decode(column: "n", as: Int.self)
            }
            #expect(count == 0)
        }
    }
}
