import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

@Suite("Bulk writer")
struct BulkWriterTests {
    static func line(_ company: String, basis: String, unit: String? = nil) -> BillLine {
        BillLine(id: Identifier.uuidV7(at: Date()), companyId: company, communityId: "c", billId: nil, houseId: "h", feeItemId: "f",
                 period: BillingPeriod("2026-10")!, kind: .adjustment, standardId: "s", standardVersion: 1, quantity: nil, unit: unit,
                 unitPrice: UnitPrice(tenThousandths: 25_000), basis: basis,
                 breakdown: [QuoteLine(description: "tab\there \"quoted\" back\\slash", tier: 1, window: nil, quantity: nil, unitPrice: nil,
                                       exact: ExactAmount(tenMillionths: 5))],
                 exact: ExactAmount(tenMillionths: -12_345), rounding: "half_up", billableDays: 15, periodDays: 31, amount: -1_100,
                 adjustsLineId: nil, createdAt: Date(epochMilliseconds: 1_795_312_800_000))
    }

    @Test("rows round-trip exactly, whatever characters they hold (COPY escapes on PostgreSQL), NULLs included",
          arguments: TestEngine.available)
    func roundTrip(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            let lines = [Self.line(companies.a.companyId, basis: "tab\tnewline\nreturn\rbackslash\\N end \\\\ 公摊 ✓", unit: "m³"),
                         Self.line(companies.a.companyId, basis: "\\N")]
            try await BulkWriter(database: database, scope: scope).write([.init(lines)])
            let stored = try await database.read { db in try await ScopedStore(db, scope: scope).all(BillLine.self, where: "house_id", in: ["h"]) }
            #expect(stored.sorted { $0.id < $1.id } == lines.sorted { $0.id < $1.id })
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
            let count = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM bill_lines").first()!.decode(column: "n", as: Int.self) }
            #expect(count == 0)
        }
    }
}
