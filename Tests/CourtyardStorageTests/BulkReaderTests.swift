import CourtyardDomain
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Testing

/// The bulk readers (raw SQLite, PostgresNIO without SQLKit) are what bill runs read with: they must answer exactly as
/// the tenant-scoped store does, and never with another company's rows.
@Suite("Bulk readers")
struct BulkReaderTests {
    @Test(
        "a bulk reader lists, batch-reads and column-reads the same rows as the scoped store, within its tenant",
        arguments: TestEngine.available)
    func sameRowsAsTheStore(engine: TestEngine) async throws {
        try await engine.withDatabase(fastPaths: .all) { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            let reader = try #require(try bulkReader(database, scope: scope), "no bulk reader for \(engine)")

            let houses = try await database.read { db in try await ScopedStore(db, scope: scope).listAll(House.self) }
            #expect(!houses.isEmpty)
            // Paged in id order, in pages smaller than the table, with a filter.
            let community = houses[0].communityId
            var paged: [House] = []
            var cursor: String? = nil
            repeat {
                let page = try await reader.list(House.self, filters: [("community_id", community)], after: cursor, limit: 3)
                paged += page.items
                cursor = page.nextCursor
            } while cursor != nil
            #expect(paged == houses.filter { $0.communityId == community })

            // Batch reads by id, with an id of company B among them: B's row never comes back.
            let theirs = try await database.read { db in
                try await ScopedStore(db, scope: TenantScope(companyId: companies.b.companyId)).listAll(House.self)
            }
            let asked = houses.map(\.id) + theirs.map(\.id)
            let found = try await reader.all(House.self, where: "id", in: asked, filters: [], alsoIn: nil, literal: [])
            #expect(found.sorted { $0.id < $1.id } == houses)
            let storeFound = try await database.read { db in
                try await ScopedStore(db, scope: scope).all(House.self, where: "id", in: asked)
            }
            #expect(storeFound.sorted { $0.id < $1.id } == found.sorted { $0.id < $1.id })

            // Named columns keep their storage shapes: text as text, integers as integers, NULL as NULL.
            let rows = try await reader.rows(
                ["id", "unit_id", "floor", "built_area_hundredths"], of: House.self, where: "id",
                in: asked, alsoIn: ("community_id", [community]), literal: ["built_area_hundredths > 0"])
            let expected = houses.filter { $0.communityId == community && $0.builtArea.hundredths > 0 }
            #expect(rows.count == expected.count)
            for (row, house) in zip(rows.sorted { (try? $0.string("id")) ?? "" < (try? $1.string("id")) ?? "" }, expected) {
                #expect(try row.string("id") == house.id)
                #expect(try row.optionalString("unit_id") == house.unitId)
                #expect(try row.optionalInt64("floor") == house.floor.map(Int64.init))
                #expect(try row.int64("built_area_hundredths") == house.builtArea.hundredths)
                #expect(throws: StorageError.self) { try row.int64("id") }
            }

            // A scope narrowed to one community reads nothing of the company's other communities.
            let narrowed = try #require(try bulkReader(database, scope: TenantScope(companyId: companies.a.companyId, communityIds: [community])))
            let narrowedFound = try await narrowed.all(House.self, where: "id", in: asked, filters: [], alsoIn: nil, literal: [])
            #expect(Set(narrowedFound.map(\.id)) == Set(houses.filter { $0.communityId == community }.map(\.id)))
        }
    }
}
