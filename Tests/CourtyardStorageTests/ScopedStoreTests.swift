import CourtyardDomain
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Testing

@Suite("Tenant-scoped store")
struct ScopedStoreTests {
    /// One record of `R` in company B, and what company A's store does with it.
    func assertInvisible<R: TenantRecord>(_ type: R.Type, database: Database, companies: TwoCompanies) async throws {
        let bScope = TenantScope(companyId: companies.b.companyId)
        let aScope = TenantScope(companyId: companies.a.companyId)
        let bRecords = try await database.read { db in try await ScopedStore(db, scope: bScope).list(R.self, limit: 500).items }
        let victim = try #require(bRecords.first, "company B has no \(R.table)")
        try await database.read { db in
            let store = ScopedStore(db, scope: aScope)
            #expect(try await store.find(R.self, id: victim.id) == nil, "A can read B's \(R.table)")
            let visible = try await store.list(R.self, limit: 500).items
            #expect(!visible.isEmpty, "A sees none of its own \(R.table)")
            #expect(visible.allSatisfy { $0.companyId == companies.a.companyId }, "A lists B's \(R.table)")
        }
        await #expect(throws: StorageError.notFound(table: R.table, id: victim.id)) {
            try await database.transaction { db in try await ScopedStore(db, scope: aScope).delete(R.self, id: victim.id) }
        }
        await #expect(throws: StorageError.outOfScope) {
            try await database.transaction { db in try await ScopedStore(db, scope: aScope).update(victim) }
        }
        await #expect(throws: StorageError.outOfScope) {
            try await database.transaction { db in try await ScopedStore(db, scope: aScope).insert(victim) }
        }
        let still = try await database.read { db in try await ScopedStore(db, scope: bScope).find(R.self, id: victim.id) }
        #expect(still != nil)
    }

    @Test("a company's store never reads, lists, changes or deletes another company's rows", arguments: TestEngine.available)
    func companiesAreIsolated(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            try await assertInvisible(Community.self, database: database, companies: companies)
            try await assertInvisible(Building.self, database: database, companies: companies)
            try await assertInvisible(BuildingUnit.self, database: database, companies: companies)
            try await assertInvisible(House.self, database: database, companies: companies)
            try await assertInvisible(Person.self, database: database, companies: companies)
            try await assertInvisible(Occupancy.self, database: database, companies: companies)
            try await assertInvisible(Vehicle.self, database: database, companies: companies)
            try await assertInvisible(ParkingSpace.self, database: database, companies: companies)
            try await assertInvisible(Device.self, database: database, companies: companies)
            try await assertInvisible(DeviceBinding.self, database: database, companies: companies)
            try await assertInvisible(FeeItem.self, database: database, companies: companies)
            try await assertInvisible(FeeStandard.self, database: database, companies: companies)
            try await assertInvisible(FeeAttachment.self, database: database, companies: companies)
            try await assertInvisible(UsageRecord.self, database: database, companies: companies)
        }
    }

    @Test("a scope limited to one community hides the company's other communities", arguments: TestEngine.available)
    func communityScope(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let communities = try await database.read { db in
                try await ScopedStore(db, scope: TenantScope(companyId: companies.a.companyId)).list(Community.self, limit: 10).items
            }
            #expect(communities.count == 2)
            let first = communities[0].id
            let limited = TenantScope(companyId: companies.a.companyId, communityIds: [first])
            let houses = try await database.read { db in try await ScopedStore(db, scope: limited).list(House.self, limit: 500).items }
            #expect(!houses.isEmpty)
            #expect(houses.allSatisfy { $0.communityId == first })
            let other = try await database.read { db in
                try await ScopedStore(db, scope: TenantScope(companyId: companies.a.companyId)).list(
                    House.self, filters: [("community_id", communities[1].id)], limit: 1
                ).items.first
            }
            let hidden = try #require(other)
            #expect(try await database.read { db in try await ScopedStore(db, scope: limited).find(House.self, id: hidden.id) } == nil)
        }
    }

    @Test("cursor pages walk every row once, in id order", arguments: TestEngine.available)
    func pagination(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            let all = try await database.read { db in try await ScopedStore(db, scope: scope).list(Device.self, limit: 500).items }
            var seen: [String] = []
            var cursor: String? = nil
            repeat {
                let page = try await database.read { [cursor] db in
                    try await ScopedStore(db, scope: scope).list(Device.self, after: cursor, limit: 3)
                }
                #expect(page.items.count <= 3)
                seen += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == all.map(\.id))
            #expect(seen == seen.sorted())
            #expect(try await database.read { db in try await ScopedStore(db, scope: scope).count(Device.self) } == all.count)
        }
    }

    @Test("constraint failures become typed storage errors and roll the transaction back", arguments: TestEngine.available)
    func constraintsAreTyped(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            let house = try await database.read { db in try #require(try await ScopedStore(db, scope: scope).list(House.self, limit: 1).items.first) }
            let before = try await database.read { db in try await ScopedStore(db, scope: scope).count(House.self) }

            var twin = house
            twin.id = Identifier.uuidV7(at: Date())
            await #expect(throws: StorageError.self) {
                try await database.transaction { [twin] db in
                    var fresh = house
                    fresh.id = Identifier.uuidV7(at: Date())
                    fresh.number = "X-\(UUID().uuidString.prefix(6))"
                    try await ScopedStore(db, scope: scope).insert(fresh)  // succeeds inside the transaction…
                    try await ScopedStore(db, scope: scope).insert(twin)  // …then the duplicate number fails
                }
            }
            var orphan = house
            orphan.id = Identifier.uuidV7(at: Date())
            orphan.number = "orphan"
            orphan.buildingId = Identifier.uuidV7(at: Date())
            do {
                try await database.transaction { [orphan] db in try await ScopedStore(db, scope: scope).insert(orphan) }
                Issue.record("a house with a missing building was stored")
            } catch let error as StorageError {
                guard case .referenceViolation = error else { Issue.record("expected referenceViolation, got \(error)"); return }
            }
            var negative = house
            negative.id = Identifier.uuidV7(at: Date())
            negative.number = "negative"
            negative.builtArea = Area(hundredths: -500)
            do {
                try await database.transaction { [negative] db in try await ScopedStore(db, scope: scope).insert(negative) }
                Issue.record("a negative area was stored")
            } catch let error as StorageError {
                guard case .checkViolation = error else { Issue.record("expected checkViolation, got \(error)"); return }
            }
            let after = try await database.read { db in try await ScopedStore(db, scope: scope).count(House.self) }
            #expect(after == before)
        }
    }

    @Test("records read back exactly as written", arguments: TestEngine.available)
    func roundTrip(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            try await database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                var house = try #require(try await store.list(House.self, limit: 1).items.first)
                house.builtArea = Area(hundredths: 12_345)
                house.indoorArea = Area(hundredths: 9_999)
                house.unitId = nil
                house.number = "R-1"
                house.floor = nil
                house.status = .decorating
                try await store.update(house)
                #expect(try await store.get(House.self, id: house.id) == house)
            }
        }
    }

    @Test("the demo seeder is idempotent", arguments: TestEngine.available)
    func seederIsIdempotent(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let hash: @Sendable (String, UInt8) async throws -> String = { _, _ in "x" }
            let seeder = DemoSeeder(buildingsPerCommunity: 1, unitsPerBuilding: 2, housesPerUnit: 3, bcryptCost: 4)
            let first = try await seeder.seed(database, hashPassword: hash)
            let second = try await seeder.seed(database, hashPassword: hash)
            #expect(first.created && !second.created)
            #expect(first.companyId == second.companyId)
            #expect(second.houses == 2 * 2 * 3)
            #expect(second.communities == 2)
        }
    }
}
