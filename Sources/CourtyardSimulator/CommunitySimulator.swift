import CourtyardDomain
import CourtyardStorage
import Foundation

/// Builds a large billing dataset for one community: houses, owners, meters, fee standards and one month's usage.
///
/// Each house has an area fee, tiered + time-of-use electricity, annual-tier
/// water and tiered gas; 30% have a parking card; every building has a lift
/// meter whose cost is split by built area (公摊). About 1% of owners move in
/// during the month (pro-rated) and 0.5% moved out before it. Rows are
/// generated and written building by building, so memory stays flat however
/// many households are asked for. Deterministic for a seed.
public struct CommunitySimulator: Sendable {
    public var households: Int
    public var period: BillingPeriod
    public var seed: UInt64
    public var companyCode: String
    public var housesPerBuilding = 200

    public init(households: Int, period: BillingPeriod, seed: UInt64 = 7, companyCode: String = "sim") {
        self.households = households
        self.period = period
        self.seed = seed
        self.companyCode = companyCode
    }

    public struct Summary: Codable, Sendable {
        public var companyId: String
        public var communityId: String
        public var households: Int
        public var buildings: Int
        public var rows: Int
        public var seconds: Double

        public init(companyId: String, communityId: String, households: Int, buildings: Int, rows: Int, seconds: Double) {
            self.companyId = companyId; self.communityId = communityId; self.households = households
            self.buildings = buildings; self.rows = rows; self.seconds = seconds
        }
    }

    /// The fee items and their rules (as JSON in the documented format).
    static let items: [(code: String, name: String, category: FeeCategory, usage: UsageKind?, rule: String)] = [
        ("property_fee", "物业费", .propertyFee, nil, #"{"kind":"per_area","price_per_square_metre":"2.5","area_basis":"built"}"#),
        (
            "electricity", "电费", .electricity, .electricity,
            #"{"kind":"metered","unit":"kWh","mode":"graduated","accumulation":"monthly","tiers":[{"up_to":"230","price":"0.538"},{"up_to":"400","price":"0.588"},{"price":"0.838"}],"windows":[{"name":"valley","start":"22:00","end":"08:00","prices":["0.288","0.338","0.588"]},{"name":"peak","start":"08:00","end":"22:00","prices":["0.568","0.618","0.868"]}]}"#
        ),
        (
            "water", "水费", .water, .water,
            #"{"kind":"metered","unit":"m³","mode":"graduated","accumulation":"annual","tiers":[{"up_to":"180","price":"5"},{"up_to":"260","price":"7"},{"price":"9"}]}"#
        ),
        (
            "gas", "燃气费", .gas, .gas,
            #"{"kind":"metered","unit":"m³","mode":"graduated","accumulation":"monthly","tiers":[{"up_to":"30","price":"2.98"},{"price":"3.58"}]}"#
        ),
        ("parking", "车位管理费", .parking, nil, #"{"kind":"fixed","amount":{"amount":"150.00","currency":"CNY"}}"#),
        (
            "lift", "电梯公摊电费", .commonArea, .electricity,
            #"{"kind":"metered","unit":"kWh","mode":"graduated","accumulation":"monthly","tiers":[{"price":"0.538"}]}"#
        ),
    ]

    public func run(_ database: Database, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> Summary {
        let started = ContinuousClock.now
        var random = SeededGenerator(seed: seed)
        let now = Date()
        var counter = 0
        func nextId() -> String {
            counter += 1
            return Identifier.uuidV7(at: now.addingTimeInterval(Double(counter) / 1_000_000), using: &random)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let companyId: String = try await database.transaction { [companyCode] db in
            if let existing = try await AccountStore(db).company(code: companyCode) { return existing.id }
            let company = Company(id: Identifier.uuidV7(at: now), code: companyCode, name: "模拟物业", currency: .cny, createdAt: now, updatedAt: now)
            try await AccountStore(db).insert(company)
            return company.id
        }
        let scope = TenantScope(companyId: companyId)
        let community = Community(
            id: nextId(), companyId: companyId, code: "SIM\(households)-\(Int(now.timeIntervalSince1970))",
            name: "模拟小区 \(households) 户", timeZone: "Asia/Shanghai", currency: .cny, address: nil,
            createdAt: now, updatedAt: now)
        var items: [String: FeeItem] = [:]
        var standards: [FeeStandard] = []
        var attachments: [FeeAttachment] = []
        for spec in Self.items {
            let item = FeeItem(
                id: nextId(), companyId: companyId, communityId: community.id, code: spec.code, name: spec.name,
                category: spec.category, billingCycle: .monthly, usageKind: spec.usage,
                dueDays: spec.category == .parking ? 10 : 15,
                lateFeePolicy: LateFeePolicy(graceDays: 5, dailyRatePerMillion: 500), largeHousehold: nil,
                apportionBasis: spec.category == .commonArea ? .builtArea : nil, createdAt: now, updatedAt: now)
            standards.append(
                FeeStandard(
                    id: nextId(), companyId: companyId, communityId: community.id, feeItemId: item.id,
                    version: 1, effectiveFrom: LocalDate(year: period.year, month: 1, day: 1)!,
                    effectiveUntil: nil, rule: try decoder.decode(PricingRule.self, from: Data(spec.rule.utf8)),
                    createdAt: now, updatedAt: now))
            if spec.category != .parking && spec.category != .commonArea {
                attachments.append(
                    FeeAttachment(
                        id: nextId(), companyId: companyId, communityId: community.id, feeItemId: item.id,
                        scope: .community, target: nil, validFrom: LocalDate(year: 2020, month: 1, day: 1)!,
                        validUntil: nil, createdAt: now, updatedAt: now))
            }
            items[spec.code] = item
        }
        var rows = 1 + items.count + standards.count + attachments.count
        try await database.transaction { [items, standards, attachments] db in
            let store = ScopedStore(db, scope: scope)
            try await store.insert(community)
            try await store.insertAll(Array(items.values))
            try await store.insertAll(standards)
            try await store.insertAll(attachments)
        }
        let buildings = (households + housesPerBuilding - 1) / housesPerBuilding
        let periodText = period.description
        let since = LocalDate(year: 2015, month: 6, day: 1)!
        var made = 0
        for buildingIndex in 0..<buildings {
            let count = min(housesPerBuilding, households - made)
            var batch = Batch()
            let building = Building(
                id: nextId(), companyId: companyId, communityId: community.id, name: "\(buildingIndex + 1)幢",
                floors: 33, createdAt: now, updatedAt: now)
            batch.buildings.append(building)
            let units = (0..<2).map {
                BuildingUnit(
                    id: nextId(), companyId: companyId, communityId: community.id, buildingId: building.id,
                    name: "\($0 + 1)单元", createdAt: now, updatedAt: now)
            }
            batch.units = units
            let lift = Device(
                id: nextId(), companyId: companyId, communityId: community.id,
                deviceKey: "\(community.code)-b\(buildingIndex + 1)-lift", kind: .electricityMeter, protocol: .dlt645,
                model: "DDS1352", address: String(format: "%012d", buildingIndex + 1), status: .active, createdAt: now, updatedAt: now)
            batch.devices.append(lift)
            batch.attachments.append(
                FeeAttachment(
                    id: nextId(), companyId: companyId, communityId: community.id, feeItemId: items["lift"]!.id,
                    scope: .building, target: building.id, sharedMeterId: lift.id,
                    validFrom: since, validUntil: nil, createdAt: now, updatedAt: now))
            batch.usage.append(usage(lift.id, .device, .electricity, Int64.random(in: 800_000...2_400_000, using: &random), nil))
            for index in 0..<count {
                let unit = units[index % 2]
                let house = House(
                    id: nextId(), companyId: companyId, communityId: community.id, buildingId: building.id, unitId: unit.id,
                    number: String(format: "%d%02d", index / 4 + 1, index % 4 + 1), floor: index / 4 + 1,
                    builtArea: Area(hundredths: Int64.random(in: 5_000...18_000, using: &random)),
                    indoorArea: Area(hundredths: 4_000), houseType: .residential, status: .occupied, createdAt: now, updatedAt: now)
                batch.houses.append(house)
                let person = Person(
                    id: nextId(), companyId: companyId, communityId: community.id, name: "业主\(made + index + 1)",
                    phone: nil, email: nil, createdAt: now, updatedAt: now)
                batch.people.append(person)
                let roll = Int.random(in: 0..<1000, using: &random)
                let from = roll < 10 ? LocalDate(year: period.year, month: period.index, day: Int.random(in: 2...28, using: &random))! : since
                let until: LocalDate? = roll >= 10 && roll < 15 ? period.start.adding(days: -Int.random(in: 1...90, using: &random)) : nil
                batch.occupancies.append(
                    Occupancy(
                        id: nextId(), companyId: companyId, communityId: community.id, houseId: house.id,
                        personId: person.id, role: .owner, validFrom: from, validUntil: until,
                        createdAt: now, updatedAt: now))
                let peak = Int64.random(in: 60_000...420_000, using: &random)
                let valley = Int64.random(in: 20_000...200_000, using: &random)
                batch.usage.append(
                    usage(
                        house.id, .house, .electricity, peak + valley,
                        ["peak": Quantity(milliUnits: peak), "valley": Quantity(milliUnits: valley)]))
                batch.usage.append(usage(house.id, .house, .water, Int64.random(in: 4_000...40_000, using: &random), nil))
                batch.usage.append(usage(house.id, .house, .gas, Int64.random(in: 3_000...60_000, using: &random), nil))
                if Int.random(in: 0..<10, using: &random) < 3 {
                    batch.attachments.append(
                        FeeAttachment(
                            id: nextId(), companyId: companyId, communityId: community.id,
                            feeItemId: items["parking"]!.id, scope: .house, target: house.id,
                            validFrom: since, validUntil: nil, createdAt: now, updatedAt: now))
                }
            }
            made += count
            rows += batch.rows
            let pending = batch
            try await database.transaction { db in
                let store = ScopedStore(db, scope: scope)
                try await store.insertAll(pending.buildings)
                try await store.insertAll(pending.units)
                try await store.insertAll(pending.devices)
                try await store.insertAll(pending.houses)
                try await store.insertAll(pending.people)
                try await store.insertAll(pending.occupancies)
                try await store.insertAll(pending.attachments)
                try await store.insertAll(pending.usage)
            }
            progress?(made, households)
        }

        func usage(
            _ subject: String, _ kind: UsageRecord.SubjectKind, _ usageKind: UsageKind, _ milli: Int64,
            _ windows: [String: Quantity]?
        ) -> UsageRecord {
            UsageRecord(
                id: nextId(), companyId: companyId, communityId: community.id, subjectKind: kind, subjectId: subject,
                usageKind: usageKind, period: BillingPeriod(periodText)!, quantity: Quantity(milliUnits: milli), windows: windows,
                estimated: false, source: .simulator, createdAt: now, updatedAt: now)
        }
        return Summary(
            companyId: companyId, communityId: community.id, households: households, buildings: buildings, rows: rows,
            seconds: (ContinuousClock.now - started).seconds)
    }

    /// One building's rows, written in one transaction.
    struct Batch: Sendable {
        var buildings: [Building] = []
        var units: [BuildingUnit] = []
        var devices: [Device] = []
        var houses: [House] = []
        var people: [Person] = []
        var occupancies: [Occupancy] = []
        var attachments: [FeeAttachment] = []
        var usage: [UsageRecord] = []
        var rows: Int {
            buildings.count + units.count + devices.count + houses.count + people.count + occupancies.count + attachments.count + usage.count
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number for reports (never for money).
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
