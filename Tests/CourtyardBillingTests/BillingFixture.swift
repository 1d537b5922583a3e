import CourtyardBilling
import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit

/// A community with one test building of three houses, five fee items and October 2026 usage, on one engine.
///
/// Houses: H1 100.00 m² owned all month, with a parking card; H2 80.00 m² whose
/// owner moved in on 17 October (15 of 31 days); H3 60.00 m² with no owner on
/// record (charged for the whole month).
struct BillingFixture {
    let database: Database
    let ledger: LedgerWriter
    let clock: ManualClock
    let companyId: String
    let otherCompanyId: String
    let community: String
    let houses: [String]
    let items: [String: FeeItem]
    let liftMeter = "lift-meter-building-t"

    var scope: TenantScope { TenantScope(companyId: companyId) }
    var runner: BillRunner { BillRunner(database: database, ledger: ledger, clock: clock, chunkSize: 2) }

    /// 2026-11-22T02:00:00Z: October 2026 has closed in Asia/Shanghai.
    static let afterOctober = Date(timeIntervalSince1970: 1_795_312_800)

    static func rule(_ json: String) -> PricingRule {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(PricingRule.self, from: Data(json.utf8))
    }

    static func with(_ engine: TestEngine, fastPaths: FastPaths? = nil, _ body: (BillingFixture) async throws -> Void) async throws {
        try await engine.withDatabase(fastPaths: fastPaths) { database in
            let companies = try await TwoCompanies.seed(database, .init(housesPerUnit: 2, billing: false))
            let (a, b) = (companies.a, companies.b)
            let scope = TenantScope(companyId: a.companyId)
            let now = Date(timeIntervalSince1970: 1_790_000_000)
            let built = try await database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                let community = try await store.list(Community.self, limit: 1).items[0]
                let c = community.id
                let building = Building(
                    id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c, name: "T", floors: 3,
                    createdAt: now, updatedAt: now)
                try await store.insert(building)
                var houses: [String] = []
                for (number, area) in [("T-101", 10_000), ("T-102", 8_000), ("T-103", 6_000)] {
                    let house = House(
                        id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c, buildingId: building.id,
                        unitId: nil, number: number, floor: 1, builtArea: Area(hundredths: Int64(area)),
                        indoorArea: Area(hundredths: Int64(area) * 8 / 10), houseType: .residential, status: .occupied,
                        createdAt: now, updatedAt: now)
                    try await store.insert(house)
                    houses.append(house.id)
                }
                for (index, from) in [(0, "2020-01-01"), (1, "2026-10-17")] {
                    let person = Person(
                        id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c, name: "Owner \(index)",
                        phone: nil, email: nil, createdAt: now, updatedAt: now)
                    try await store.insert(person)
                    try await store.insert(
                        Occupancy(
                            id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c,
                            houseId: houses[index], personId: person.id, role: .owner,
                            validFrom: LocalDate(from)!, validUntil: nil, createdAt: now, updatedAt: now))
                }
                func item(_ code: String, _ category: FeeCategory, usage: UsageKind? = nil, device: String? = nil) -> FeeItem {
                    FeeItem(
                        id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c, code: code, name: code,
                        category: category, billingCycle: .monthly, usageKind: usage, dueDays: category == .parking ? 10 : 15,
                        lateFeePolicy: LateFeePolicy(graceDays: 5, dailyRatePerMillion: 500), largeHousehold: nil,
                        apportionBasis: device == nil ? nil : .builtArea, createdAt: now, updatedAt: now)
                }
                let items = [
                    item("property_fee", .propertyFee),
                    item("electricity", .electricity, usage: .electricity),
                    item("water", .water, usage: .water),
                    item("lift", .commonArea, usage: .electricity, device: "lift-meter-building-t"),
                    item("parking", .parking),
                ]
                let rules = [
                    "property_fee": #"{"kind":"per_area","price_per_square_metre":"2.5","area_basis":"built"}"#,
                    "electricity":
                        #"{"kind":"metered","unit":"kWh","mode":"graduated","accumulation":"monthly","tiers":[{"up_to":"200","price":"0.5"},{"price":"0.55"}]}"#,
                    "water":
                        #"{"kind":"metered","unit":"m³","mode":"graduated","accumulation":"annual","tiers":[{"up_to":"180","price":"5"},{"up_to":"260","price":"7"},{"price":"9"}]}"#,
                    "lift": #"{"kind":"metered","unit":"kWh","mode":"graduated","accumulation":"monthly","tiers":[{"price":"0.6"}]}"#,
                    "parking": #"{"kind":"fixed","amount":{"amount":"150.00","currency":"CNY"}}"#,
                ]
                for item in items {
                    try await store.insert(item)
                    try await store.insert(
                        FeeStandard(
                            id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c,
                            feeItemId: item.id, version: 1, effectiveFrom: LocalDate("2026-01-01")!,
                            effectiveUntil: nil, rule: rule(rules[item.code]!), createdAt: now, updatedAt: now))
                    let parking = item.code == "parking"
                    try await store.insert(
                        FeeAttachment(
                            id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c,
                            feeItemId: item.id, scope: parking ? .house : .building,
                            target: parking ? houses[0] : building.id,
                            sharedMeterId: item.code == "lift" ? "lift-meter-building-t" : nil, validFrom: LocalDate("2026-01-01")!,
                            validUntil: nil, createdAt: now, updatedAt: now))
                }
                func usage(
                    _ subject: String, _ kind: UsageKind, _ period: String, _ quantity: String,
                    as subjectKind: UsageRecord.SubjectKind = .house
                ) -> UsageRecord {
                    UsageRecord(
                        id: Identifier.uuidV7(at: now), companyId: a.companyId, communityId: c, subjectKind: subjectKind,
                        subjectId: subject, usageKind: kind, period: BillingPeriod(period)!,
                        quantity: try! Quantity(parsing: quantity), windows: nil, estimated: false, source: .manual,
                        createdAt: now, updatedAt: now)
                }
                var records = [
                    usage(houses[0], .electricity, "2026-10", "250"),
                    usage(houses[1], .electricity, "2026-10", "120"),
                    usage(houses[0], .water, "2026-10", "20"),
                    usage("lift-meter-building-t", .electricity, "2026-10", "1000", as: .device),
                ]
                // H1's water earlier this year: 170 m³ over nine months, so October starts at annual position 170.
                for month in 1...9 {
                    records.append(usage(houses[0], .water, String(format: "2026-%02d", month), month == 9 ? "10" : "20"))
                }
                try await store.insertAll(records)
                return (c, houses, Dictionary(uniqueKeysWithValues: items.map { ($0.code, $0) }))
            }
            let clock = ManualClock(afterOctober)
            try await body(
                BillingFixture(
                    database: database, ledger: LedgerWriter(database: database, clock: clock), clock: clock,
                    companyId: a.companyId, otherCompanyId: b.companyId, community: built.0, houses: built.1,
                    items: built.2))
        }
    }

    func bills() async throws -> [Bill] {
        try await database.read { db in
            try await ScopedStore(db, scope: scope).all(Bill.self, where: "house_id", in: houses)
        }
    }

    func lines() async throws -> [BillLine] {
        try await database.read { db in
            try await ScopedStore(db, scope: scope).all(BillLine.self, where: "house_id", in: houses)
        }
    }

    func balance(_ key: AccountKey) async throws -> Int64 {
        try await database.read { db in
            try await LedgerStore(db, companyId: companyId, engine: database.engine).account(id: key.id)?.balance ?? 0
        }
    }

    func count(_ table: String) async throws -> Int {
        try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self) }
    }
}
