import CourtyardDomain
import CourtyardStorage
import Foundation

/// Builds the demo company: two communities with buildings, ~500 houses, owners, vehicles, parking spaces and bound meters.
///
/// Seeding is deterministic for a given seed and idempotent: if the demo
/// company already exists, nothing is written and the same logins are
/// returned. Staff and owner accounts use the passwords in ``DemoSeeder/password``.
public struct DemoSeeder: Sendable {
    /// A login to print for people trying the demo.
    public struct Login: Sendable, Equatable {
        public var login: String
        public var password: String
        public var role: Role
    }

    /// What the seeder found or made.
    public struct Summary: Sendable {
        public var companyId: String
        public var created: Bool
        public var communities: Int
        public var houses: Int
        public var logins: [Login]
    }

    public static let companyCode = "demo"
    public static let password = "courtyard-demo"

    public var seed: UInt64
    /// The company's code; logins other than the platform's are suffixed with it when it is not the demo's.
    public var companyCode: String
    public var buildingsPerCommunity: Int
    public var unitsPerBuilding: Int
    public var housesPerUnit: Int
    public var bcryptCost: UInt8
    public var clock: any WallClock
    /// Whether to set up billing too: fee items, standards, attachments and last month's usage, so a bill run can be tried at once.
    public var billing: Bool

    public init(
        seed: UInt64 = 2026, companyCode: String = DemoSeeder.companyCode, buildingsPerCommunity: Int = 5, unitsPerBuilding: Int = 2,
        housesPerUnit: Int = 25,
        bcryptCost: UInt8 = 10, clock: any WallClock = SystemClock(), billing: Bool = true
    ) {
        self.billing = billing
        self.seed = seed
        self.companyCode = companyCode
        self.buildingsPerCommunity = buildingsPerCommunity
        self.unitsPerBuilding = unitsPerBuilding
        self.housesPerUnit = housesPerUnit
        self.bcryptCost = bcryptCost
        self.clock = clock
    }

    /// The seeded logins: the demo's names, or `name@code` for another company (which gets no platform admin).
    var loginNames: [(String, Role)] {
        if companyCode == Self.companyCode { return Self.logins }
        return Self.logins.filter { $0.1 != .platformAdmin }.map { ($0.0.replacingOccurrences(of: "@demo", with: "@\(companyCode)"), $0.1) }
    }

    static let logins: [(String, Role)] = [
        ("platform", .platformAdmin), ("admin@demo", .companyAdmin), ("finance@demo", .finance),
        ("frontdesk@demo", .frontDesk), ("engineer@demo", .engineer), ("owner@demo", .owner),
    ]

    /// Seeds `database` unless the demo company exists; `hashPassword` hashes with bcrypt (passed in to keep this module free of the server).
    public func seed(_ database: Database, hashPassword: @Sendable (String, UInt8) async throws -> String) async throws -> Summary {
        let logins = loginNames.map { Login(login: $0.0, password: Self.password, role: $0.1) }
        let companyCode = self.companyCode
        if let existing = try await database.read({ db in try await AccountStore(db).company(code: companyCode) }) {
            let counts = try await database.read { db in
                let store = ScopedStore(db, scope: TenantScope(companyId: existing.id))
                return (try await store.count(Community.self), try await store.count(House.self))
            }
            return Summary(companyId: existing.id, created: false, communities: counts.0, houses: counts.1, logins: logins)
        }
        let hash = try await hashPassword(Self.password, bcryptCost)
        let plan = makePlan()
        try await database.transaction { db in
            let accounts = AccountStore(db)
            try await accounts.insert(plan.company)
            let store = ScopedStore(db, scope: TenantScope(companyId: plan.company.id))
            for record in plan.communities { try await store.insert(record) }
            for record in plan.buildings { try await store.insert(record) }
            for record in plan.units { try await store.insert(record) }
            for record in plan.houses { try await store.insert(record) }
            for record in plan.people { try await store.insert(record) }
            for record in plan.occupancies { try await store.insert(record) }
            for record in plan.spaces { try await store.insert(record) }
            for record in plan.vehicles { try await store.insert(record) }
            for record in plan.devices { try await store.insert(record) }
            for record in plan.bindings { try await store.insert(record) }
            try await store.insertAll(plan.feeItems)
            try await store.insertAll(plan.standards)
            try await store.insertAll(plan.attachments)
            try await store.insertAll(plan.usage)
            for user in plan.users { try await accounts.insert(user, passwordHash: hash) }
        }
        return Summary(
            companyId: plan.company.id, created: true, communities: plan.communities.count,
            houses: plan.houses.count, logins: logins)
    }

    struct Plan {
        var company: Company
        var communities: [Community] = []
        var buildings: [Building] = []
        var units: [BuildingUnit] = []
        var houses: [House] = []
        var people: [Person] = []
        var occupancies: [Occupancy] = []
        var spaces: [ParkingSpace] = []
        var vehicles: [Vehicle] = []
        var devices: [Device] = []
        var bindings: [DeviceBinding] = []
        var feeItems: [FeeItem] = []
        var standards: [FeeStandard] = []
        var attachments: [FeeAttachment] = []
        var usage: [UsageRecord] = []
        var users: [User] = []
    }

    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
    static let givenNames = [
        "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
        "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "晓明", "海燕", "丹", "鑫", "婷", "宇",
    ]
    static let provinces = Array("浙沪苏皖京粤")

    func makePlan() -> Plan {
        var random = SeededGenerator(seed: seed)
        let now = clock.now()
        var counter: UInt64 = 0
        // Ids are UUIDv7 a millisecond apart, so rows list in the order they were planned.
        func nextId() -> String {
            counter += 1
            return Identifier.uuidV7(at: now.addingTimeInterval(Double(counter) / 1000))
        }
        let company = Company(
            id: nextId(), code: companyCode, name: "绿景物业服务有限公司", currency: .cny,
            createdAt: now, updatedAt: now)
        var plan = Plan(company: company)
        let moveIn = LocalDate(year: 2024, month: 3, day: 1)!
        let communityNames = [("LJY", "绿景苑", "杭州市西湖区文三路 100 号"), ("YQHY", "云栖花园", "杭州市西湖区转塘街道云栖路 8 号")]
        var ownerPersonId: String?
        for (code, name, address) in communityNames {
            let community = Community(
                id: nextId(), companyId: company.id, code: code, name: name, timeZone: "Asia/Shanghai",
                currency: .cny, address: address, createdAt: now, updatedAt: now)
            plan.communities.append(community)
            var spaceNumber = 0
            var plates = Set<String>()
            for buildingIndex in 1...buildingsPerCommunity {
                let building = Building(
                    id: nextId(), companyId: company.id, communityId: community.id,
                    name: "\(buildingIndex)幢", floors: (housesPerUnit + 1) / 2 + 1, createdAt: now, updatedAt: now)
                plan.buildings.append(building)
                // Each building has a common lift meter, shared (公摊) by its houses.
                let liftMeter = Device(
                    id: nextId(), companyId: company.id, communityId: community.id,
                    deviceKey: "\(companyCode)-\(code.lowercased())-b\(buildingIndex)-lift-em", kind: .electricityMeter,
                    protocol: .dlt645, model: "DDS1352", address: String(format: "%012d", 900_000 + buildingIndex),
                    status: .active, createdAt: now, updatedAt: now)
                plan.devices.append(liftMeter)
                plan.bindings.append(
                    DeviceBinding(
                        id: nextId(), companyId: company.id, communityId: community.id,
                        deviceId: liftMeter.id, targetKind: .commonArea,
                        targetId: "lift:\(building.id)", validFrom: moveIn, validUntil: nil,
                        createdAt: now, updatedAt: now))
                for unitIndex in 1...unitsPerBuilding {
                    let unit = BuildingUnit(
                        id: nextId(), companyId: company.id, communityId: community.id,
                        buildingId: building.id, name: "\(unitIndex)单元", createdAt: now, updatedAt: now)
                    plan.units.append(unit)
                    for slot in 0..<housesPerUnit {
                        let floor = slot / 2 + 1
                        let number = "\(floor)0\(slot % 2 + 1)"
                        let built = Int64.random(in: 7_000...14_500, using: &random)
                        let indoor = built * Int64.random(in: 76...85, using: &random) / 100
                        let occupied = Int.random(in: 0..<10, using: &random) < 9
                        let house = House(
                            id: nextId(), companyId: company.id, communityId: community.id, buildingId: building.id,
                            unitId: unit.id, number: number, floor: floor, builtArea: Area(hundredths: built),
                            indoorArea: Area(hundredths: indoor), houseType: .residential,
                            status: occupied ? .occupied : .vacant, createdAt: now, updatedAt: now)
                        plan.houses.append(house)
                        let tag = "\(companyCode)-\(code.lowercased())-\(buildingIndex)-\(unitIndex)-\(number)"
                        for (kind, proto, suffix) in [
                            (Device.Kind.waterMeter, Device.Transport.cjt188, "wm"),
                            (.electricityMeter, .dlt645, "em"),
                        ] {
                            let serial = plan.devices.count + 1
                            let meter = Device(
                                id: nextId(), companyId: company.id, communityId: community.id,
                                deviceKey: "\(tag)-\(suffix)", kind: kind, protocol: proto, model: nil,
                                address: String(format: proto == .dlt645 ? "%012d" : "%014d", serial),
                                status: .active, createdAt: now, updatedAt: now)
                            plan.devices.append(meter)
                            plan.bindings.append(
                                DeviceBinding(
                                    id: nextId(), companyId: company.id, communityId: community.id,
                                    deviceId: meter.id, targetKind: .house, targetId: house.id,
                                    validFrom: moveIn, validUntil: nil, createdAt: now, updatedAt: now))
                        }
                        guard occupied else { continue }
                        let person = Person(
                            id: nextId(), companyId: company.id, communityId: community.id,
                            name: String(Self.surnames.randomElement(using: &random)!) + Self.givenNames.randomElement(using: &random)!,
                            phone: "13" + String(format: "%09d", Int.random(in: 0..<1_000_000_000, using: &random)),
                            email: nil, createdAt: now, updatedAt: now)
                        plan.people.append(person)
                        if ownerPersonId == nil { ownerPersonId = person.id }
                        plan.occupancies.append(
                            Occupancy(
                                id: nextId(), companyId: company.id, communityId: community.id,
                                houseId: house.id, personId: person.id, role: .owner, validFrom: moveIn,
                                validUntil: nil, createdAt: now, updatedAt: now))
                        if Int.random(in: 0..<10, using: &random) < 6 {
                            spaceNumber += 1
                            let space = ParkingSpace(
                                id: nextId(), companyId: company.id, communityId: community.id,
                                code: String(format: "B1-%03d", spaceNumber), kind: .owned, houseId: house.id,
                                area: Area(hundredths: 1250), createdAt: now, updatedAt: now)
                            plan.spaces.append(space)
                            let electric = Int.random(in: 0..<10, using: &random) < 3
                            let letters = "ABCDEFGHJK"
                            var plate = ""
                            repeat {
                                plate =
                                    String(Self.provinces.randomElement(using: &random)!)
                                    + String(letters.randomElement(using: &random)!)
                                    + (electric ? "D" : "") + String(format: "%05d", Int.random(in: 0..<100_000, using: &random))
                            } while !plates.insert(plate).inserted
                            plan.vehicles.append(
                                Vehicle(
                                    id: nextId(), companyId: company.id, communityId: community.id,
                                    plate: plate, personId: person.id, houseId: house.id,
                                    parkingSpaceId: space.id, energy: electric ? .electric : .fuel,
                                    createdAt: now, updatedAt: now))
                        }
                    }
                }
            }
            for extra in 1...20 {
                plan.spaces.append(
                    ParkingSpace(
                        id: nextId(), companyId: company.id, communityId: community.id,
                        code: String(format: "P-%03d", extra), kind: .public, houseId: nil, area: nil,
                        createdAt: now, updatedAt: now))
            }
        }
        if billing { addBilling(to: &plan, random: &random, now: now, nextId: nextId) }
        for (login, role) in loginNames {
            plan.users.append(
                User(
                    id: nextId(), companyId: role == .platformAdmin ? nil : company.id, login: login,
                    displayName: login, role: role, personId: role == .owner ? ownerPersonId : nil,
                    communityIds: nil, status: .active, createdAt: now, updatedAt: now))
        }
        return plan
    }

    /// Fee items with standards from January of last month's year, attachments, and last month's usage for every house and lift meter.
    func addBilling(to plan: inout Plan, random: inout SeededGenerator, now: Date, nextId: () -> String) {
        let today = LocalDate.of(now, timeZone: "Asia/Shanghai")
        let month = BillingPeriod(cycle: .monthly, year: today.year, index: today.month)!.previousMonth
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let since = LocalDate(year: 2024, month: 1, day: 1)!
        for community in plan.communities {
            var items: [String: FeeItem] = [:]
            for spec in CommunitySimulator.items {
                let item = FeeItem(
                    id: nextId(), companyId: community.companyId, communityId: community.id, code: spec.code, name: spec.name,
                    category: spec.category, billingCycle: .monthly, usageKind: spec.usage,
                    dueDays: spec.category == .parking ? 10 : 15,
                    lateFeePolicy: LateFeePolicy(graceDays: 5, dailyRatePerMillion: 500), largeHousehold: nil,
                    apportionBasis: spec.category == .commonArea ? .builtArea : nil, createdAt: now, updatedAt: now)
                items[spec.code] = item
                plan.feeItems.append(item)
                plan.standards.append(
                    FeeStandard(
                        id: nextId(), companyId: community.companyId, communityId: community.id, feeItemId: item.id,
                        version: 1, effectiveFrom: since, effectiveUntil: nil,
                        rule: try! decoder.decode(PricingRule.self, from: Data(spec.rule.utf8)),
                        createdAt: now, updatedAt: now))
                if spec.category != .parking && spec.category != .commonArea {
                    plan.attachments.append(
                        FeeAttachment(
                            id: nextId(), companyId: community.companyId, communityId: community.id,
                            feeItemId: item.id, scope: .community, target: nil, validFrom: since,
                            validUntil: nil, createdAt: now, updatedAt: now))
                }
            }
            func usage(
                _ subject: String, _ kind: UsageRecord.SubjectKind, _ usageKind: UsageKind, _ milli: Int64,
                _ windows: [String: Quantity]? = nil
            ) -> UsageRecord {
                UsageRecord(
                    id: nextId(), companyId: community.companyId, communityId: community.id, subjectKind: kind, subjectId: subject,
                    usageKind: usageKind, period: month, quantity: Quantity(milliUnits: milli), windows: windows, estimated: false,
                    source: .simulator, createdAt: now, updatedAt: now)
            }
            // Each building's lift meter is split over its houses by built area.
            for binding in plan.bindings where binding.communityId == community.id && binding.targetKind == .commonArea {
                let building = String(binding.targetId.dropFirst("lift:".count))
                plan.attachments.append(
                    FeeAttachment(
                        id: nextId(), companyId: community.companyId, communityId: community.id,
                        feeItemId: items["lift"]!.id, scope: .building, target: building,
                        sharedMeterId: binding.deviceId, validFrom: since, validUntil: nil,
                        createdAt: now, updatedAt: now))
                plan.usage.append(usage(binding.deviceId, .device, .electricity, Int64.random(in: 600_000...1_800_000, using: &random)))
            }
            for space in plan.spaces where space.communityId == community.id {
                guard let house = space.houseId else { continue }
                plan.attachments.append(
                    FeeAttachment(
                        id: nextId(), companyId: community.companyId, communityId: community.id,
                        feeItemId: items["parking"]!.id, scope: .house, target: house, validFrom: since,
                        validUntil: nil, createdAt: now, updatedAt: now))
            }
            for house in plan.houses where house.communityId == community.id {
                let peak = Int64.random(in: 60_000...320_000, using: &random)
                let valley = Int64.random(in: 20_000...160_000, using: &random)
                plan.usage.append(
                    usage(
                        house.id, .house, .electricity, peak + valley,
                        ["peak": Quantity(milliUnits: peak), "valley": Quantity(milliUnits: valley)]))
                plan.usage.append(usage(house.id, .house, .water, Int64.random(in: 4_000...30_000, using: &random)))
                plan.usage.append(usage(house.id, .house, .gas, Int64.random(in: 3_000...45_000, using: &random)))
            }
        }
    }
}
