import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

/// Migration 11: ledgers written with hash-only account ids keep them; every other community derives owner-ordered ids.
@Suite("Account id schemes in storage")
struct AccountIdSchemeStorageTests {
    @Test(
        "a ledger written before migration 11 keeps its ids, grows with them and verifies; a fresh community is owner-ordered",
        arguments: TestEngine.available)
    func legacyLedgersKeepTheirIds(engine: TestEngine) async throws {
        try await engine.withDatabase(migrated: false) { database in
            try await Migrator(migrations: Schema.migrations.filter { $0.version < 11 }).migrate(database)
            let companies = try await TwoCompanies.seed(database)
            let (legacy, legacyHouses) = try await Self.community(of: companies.a.companyId, database)
            let (fresh, freshHouses) = try await Self.community(of: companies.b.companyId, database)
            // Written before the migration: the binary of the time derived hash-only ids. (Registering the community
            // first makes this binary derive them too; the registry is what the migration will fill from the data.)
            AccountIdScheme.hashOnlyCommunities.register([legacy])
            let writer = LedgerWriter(database: database, clock: ManualClock(Date(timeIntervalSince1970: 1_790_000_000)))
            func topUp(_ id: String, _ community: String, _ house: String, purpose: String = "electricity") -> LedgerOperation {
                .transfer(
                    Transfer(
                        id: id, debit: .community(community, .clearing, purpose: "cash"),
                        credit: .wallet(community, house: house, purpose: purpose), amount: 500, code: .topUp, actor: "test"))
            }
            _ = try await writer.submit(companyId: companies.a.companyId, topUp("old-1", legacy, legacyHouses[0])).get()
            _ = try await writer.submit(companyId: companies.a.companyId, topUp("old-2", legacy, legacyHouses[1])).get()
            let oldIds = try await Self.accountIds(database, community: legacy)
            #expect(
                oldIds
                    == Set([
                        AccountIdScheme.hashOnly.id(communityId: legacy, kind: .clearing, owner: "community", purpose: "cash"),
                        AccountIdScheme.hashOnly.id(communityId: legacy, kind: .wallet, owner: legacyHouses[0], purpose: "electricity"),
                        AccountIdScheme.hashOnly.id(communityId: legacy, kind: .wallet, owner: legacyHouses[1], purpose: "electricity"),
                    ]))

            let report = try await Migrator().migrate(database)
            #expect(report.applied == [11])
            let recorded = try await database.read { db in
                try await db.raw("SELECT community_id, scheme FROM ledger_account_schemes").all().map {
                    (try $0.decode(column: "community_id", as: String.self), try $0.decode(column: "scheme", as: Int.self))
                }
            }
            #expect(recorded.map(\.0) == [legacy] && recorded.map(\.1) == [1], "only communities that had accounts are recorded")

            // The legacy community's new accounts keep its scheme; the fresh community's are owner-ordered.
            _ = try await writer.submit(companyId: companies.a.companyId, topUp("new-1", legacy, legacyHouses[2], purpose: "water")).get()
            _ = try await writer.submit(companyId: companies.b.companyId, topUp("new-2", fresh, freshHouses[0])).get()
            let legacyIds = try await Self.accountIds(database, community: legacy)
            #expect(
                legacyIds.subtracting(oldIds) == [
                    AccountIdScheme.hashOnly.id(communityId: legacy, kind: .wallet, owner: legacyHouses[2], purpose: "water")
                ])
            let freshWallet = AccountIdScheme.ownerOrdered.id(communityId: fresh, kind: .wallet, owner: freshHouses[0], purpose: "electricity")
            #expect(try await Self.accountIds(database, community: fresh).contains(freshWallet))
            #expect(freshWallet.prefix(13) == freshHouses[0].prefix(13))
            let audit = try await LedgerAudit.verify(database)
            #expect(audit.isValid, "\(String(describing: audit.divergence))")
            #expect(audit.entries == 4 && audit.communities == 2)
        }
    }

    @Test("registering reads the communities the table lists", arguments: TestEngine.available)
    func theRegistryIsReadFromTheTable(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            let (community, houses) = try await Self.community(of: companies.a.companyId, database)
            #expect(!AccountIdScheme.hashOnlyCommunities.contains(community))
            try await database.transaction { db in
                try await db.raw(
                    "INSERT INTO ledger_account_schemes (community_id, company_id, scheme) VALUES (\(bind: community), \(bind: companies.a.companyId), 1)"
                ).run()
            }
            try await database.registerAccountIdSchemes()
            #expect(AccountIdScheme.hashOnlyCommunities.contains(community))
            #expect(
                AccountKey.wallet(community, house: houses[0], purpose: "gas").id
                    == AccountIdScheme.hashOnly.id(communityId: community, kind: .wallet, owner: houses[0], purpose: "gas"))
        }
    }

    static func community(of companyId: String, _ database: Database) async throws -> (String, [String]) {
        let houses = try await database.read { db in
            try await ScopedStore(db, scope: TenantScope(companyId: companyId)).list(House.self, limit: 100).items
        }
        let community = houses[0].communityId
        return (community, houses.filter { $0.communityId == community }.map(\.id))
    }

    static func accountIds(_ database: Database, community: String) async throws -> Set<String> {
        try await database.read { db in
            Set(
                try await db.raw("SELECT id FROM ledger_accounts WHERE community_id = \(bind: community)").all().map {
                    try $0.decode(column: "id", as: String.self)
                })
        }
    }
}
