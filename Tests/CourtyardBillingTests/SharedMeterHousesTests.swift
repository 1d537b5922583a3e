import CourtyardDomain
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Testing

@testable import CourtyardBilling

/// A bill run finds the houses of many shared meters in a few batched queries (``BillRunner/members(covered:source:period:)``);
/// for every scope it must find exactly the houses that the one-attachment reference (``BillRunner/houses(covered:store:period:)``)
/// finds, in id order, and none of another company.
@Suite("Shared-meter houses")
struct SharedMeterHousesTests {
    @Test(
        "batched house reads match the one-attachment reference for every scope, with the bulk reader and the store",
        arguments: TestEngine.available)
    func batchedMatchesReference(engine: TestEngine) async throws {
        try await engine.withDatabase(fastPaths: .all) { database in
            let companies = try await TwoCompanies.seed(database, .init(buildingsPerCommunity: 2, unitsPerBuilding: 2, housesPerUnit: 3))
            let (a, b) = (companies.a, companies.b)
            let scope = TenantScope(companyId: a.companyId)
            let houses = try await database.read { db in try await ScopedStore(db, scope: scope).listAll(House.self) }
            let theirs = try await database.read { db in
                try await ScopedStore(db, scope: TenantScope(companyId: b.companyId)).listAll(House.self)
            }
            let community = houses[0].communityId
            let mine = houses.filter { $0.communityId == community }
            let period = BillingPeriod("2026-10")!
            let now = Date()
            func attachment(_ scope: FeeAttachment.Scope, _ target: String?, from: String = "2026-01-01") -> FeeAttachment {
                FeeAttachment(
                    id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: community, feeItemId: "lift",
                    scope: scope, target: target, sharedMeterId: "meter", validFrom: LocalDate(from)!, validUntil: nil,
                    createdAt: now, updatedAt: now)
            }
            let attachments = [
                attachment(.building, mine[0].buildingId), attachment(.building, mine.last!.buildingId),
                attachment(.unit, mine[0].unitId), attachment(.house, mine[1].id), attachment(.houseType, "residential"),
                attachment(.community, nil), attachment(.building, "no-such-building"),
                // Another company's building and house, named by a company A attachment: nothing of theirs comes back.
                attachment(.building, theirs[0].buildingId), attachment(.house, theirs[0].id),
            ]
            let reader = try #require(try bulkReader(database, scope: scope))
            let batched = try await BillRunner.members(covered: attachments, source: reader, period: period)
            let throughStore = try await database.read { db in
                try await BillRunner.members(covered: attachments, source: ScopedStore(db, scope: scope), period: period)
            }
            #expect(batched.count == attachments.count)
            for (index, attachment) in attachments.enumerated() {
                let reference = try await database.read { db in
                    try await BillRunner.houses(covered: attachment, store: ScopedStore(db, scope: scope), period: period)
                }
                let expected = reference.map(\.id)
                #expect(batched[index].map(\.id) == expected, "\(attachment.scope) \(attachment.target ?? "-")")
                #expect(throughStore[index].map(\.id) == expected, "\(attachment.scope) \(attachment.target ?? "-") via the store")
                #expect(batched[index].map(\.builtArea) == reference.map(\.builtArea.hundredths))
                #expect(batched[index].map(\.indoorArea) == reference.map(\.indoorArea.hundredths))
            }
            #expect(batched[0].count == mine.filter { $0.buildingId == mine[0].buildingId }.count)
            #expect(batched[3].map(\.id) == [mine[1].id])
            #expect(batched[6].isEmpty && batched[7].isEmpty && batched[8].isEmpty)
        }
    }
}
