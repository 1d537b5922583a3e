import CourtyardDomain
import CourtyardStorage
import Foundation
import Hummingbird

/// Finding a house the way a front desk does: whatever the visitor says, typed into one box.
///
/// `q` is read as each of these that it can be, and every match says why it matched:
/// - a plate (`浙A12345`, `粤B·D12345`; new-energy plates have 8 characters): the vehicle's house;
/// - building-unit-number (`3-2-1201`, or building-number `3-1201`): by the building's and unit's names;
/// - a house number (`1201`);
/// - four digits: also the last four digits of a current occupant's phone;
/// - anything else: the start of a current occupant's name (`张`, `张伟`).
/// Each reading is one indexed lookup (migration 9); occupants count only while their occupancy holds today.
enum HouseSearchRoute {
    struct Match: Codable, Sendable {
        var house: House
        var buildingName: String?
        var unitName: String?
        /// Why it matched: `plate 浙A12345`, `number 1201`, `phone ending 1234 (张伟)`, `name 张伟`.
        var matched: [String]
    }

    struct Result: Codable, Sendable {
        var items: [Match]
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        api.schema(
            "HouseSearchResult",
            example: Result(items: [
                Match(
                    house: House.example, buildingName: "3", unitName: "2",
                    matched: ["number 1201"])
            ]))
        api.on(
            .get, "/api/v1/house-search",
            summary: "Find houses by plate, building-unit-number, number, an occupant's name prefix or phone's last four digits",
            tag: "House", permission: .readProperty, response: "HouseSearchResult", query: ["q", "community_id", "limit"]
        ) { request, context in
            let scope = try context.scope(for: .readProperty)
            let query = request.uri.queryParameters
            let text = (query["q"].map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, text.count <= 40 else {
                throw Problem.invalid("q", code: "required", "q is 1 to 40 characters: a plate, 3-2-1201, a number, a name or four phone digits")
            }
            let community = query["community_id"].map(String.init)
            let limit = try ResourceRoutes.limit(request, default: 20, maximum: 100)
            let now = services.clock.now()
            let items = try await services.database.read { db in
                try await search(text, community: community, limit: limit, store: ScopedStore(db, scope: scope), now: now)
            }
            return try .json(Result(items: items))
        }
    }

    /// Plates as they are written: a province character, a letter, then five (blue and yellow) or six (new-energy)
    /// letters and digits; a middle dot and spaces are dropped, letters upper-cased.
    static func plate(_ text: String) -> String? {
        let compact = text.uppercased().filter { $0 != "·" && $0 != "•" && $0 != " " }
        let scalars = Array(compact.unicodeScalars)
        func cjk(_ scalar: Unicode.Scalar) -> Bool { (0x4E00...0x9FFF).contains(scalar.value) }
        func letter(_ scalar: Unicode.Scalar) -> Bool { (0x41...0x5A).contains(scalar.value) }
        func digit(_ scalar: Unicode.Scalar) -> Bool { (0x30...0x39).contains(scalar.value) }
        guard (7...8).contains(scalars.count), cjk(scalars[0]), letter(scalars[1]) else { return nil }
        // The rest letters and digits; a trailing 挂, 学, 警 or 港 is allowed.
        let rest = scalars.dropFirst(2)
        guard rest.dropLast().allSatisfy({ letter($0) || digit($0) }), let last = rest.last, letter(last) || digit(last) || cjk(last) else {
            return nil
        }
        return compact
    }

    static func search(_ text: String, community: String?, limit: Int, store: ScopedStore, now: Date) async throws -> [Match] {
        var reasons: [String: [String]] = [:]
        var order: [String] = []
        func add(_ house: String, _ reason: String) {
            if reasons[house] == nil { order.append(house) }
            reasons[house, default: []].append(reason)
        }
        if let plate = plate(text) {
            for vehicle in try await store.list(Vehicle.self, filters: [("plate", plate)], limit: limit).items {
                if let house = vehicle.houseId { add(house, "plate \(plate)") }
            }
        }
        let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        if (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) {
            // building-unit-number or building-number, by names.
            for building in try await store.rows(Building.self, where: "name", startsWith: parts[0], limit: 50) where building.name == parts[0] {
                var units: [BuildingUnit] = []
                if parts.count == 3 {
                    units = try await store.list(BuildingUnit.self, filters: [("building_id", building.id)], limit: 500).items
                        .filter { $0.name == parts[1] }
                    if units.isEmpty { continue }
                }
                for house in try await store.list(
                    House.self, filters: [("building_id", building.id), ("number", parts[parts.count - 1])],
                    limit: limit
                ).items
                where units.isEmpty || units.contains(where: { $0.id == house.unitId }) {
                    add(house.id, "building-\(parts.count == 3 ? "unit-" : "")number \(text)")
                }
            }
        }
        for house in try await store.rows(House.self, where: "number", startsWith: text, limit: limit) where house.number == text {
            add(house.id, "number \(text)")
        }
        var people: [(Person, String)] = []
        if text.count == 4, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            people += try await store.people(phoneEndingWith: text, limit: limit).map { ($0, "phone ending \(text) (\($0.name))") }
        }
        if text.unicodeScalars.contains(where: { !$0.isASCII || ("A"..."Z").contains(Character($0)) || ("a"..."z").contains(Character($0)) }),
            plate(text) == nil
        {
            people += try await store.rows(Person.self, where: "name", startsWith: text, limit: limit).map { ($0, "name \($0.name)") }
        }
        if !people.isEmpty {
            // Occupants count while their occupancy holds today, in their community's zone.
            var zones: [String: String] = [:]
            for (person, reason) in people {
                let occupancies = try await store.listAll(Occupancy.self, filters: [("person_id", person.id)])
                for occupancy in occupancies {
                    if zones[occupancy.communityId] == nil {
                        zones[occupancy.communityId] = try await store.find(Community.self, id: occupancy.communityId)?.timeZone ?? "Asia/Shanghai"
                    }
                    let today = LocalDate.of(now, timeZone: zones[occupancy.communityId] ?? "Asia/Shanghai")
                    if occupancy.period.contains(today) { add(occupancy.houseId, reason) }
                }
            }
        }
        let houses = try await store.all(House.self, where: "id", in: Array(order.prefix(limit)))
            .filter { community == nil || $0.communityId == community }
        let byId = Dictionary(uniqueKeysWithValues: houses.map { ($0.id, $0) })
        let buildings = Dictionary(
            uniqueKeysWithValues: try await store.all(Building.self, where: "id", in: Array(Set(houses.map(\.buildingId))))
                .map { ($0.id, $0.name) })
        let units = Dictionary(
            uniqueKeysWithValues: try await store.all(BuildingUnit.self, where: "id", in: Array(Set(houses.compactMap(\.unitId))))
                .map { ($0.id, $0.name) })
        return order.prefix(limit).compactMap { id in
            byId[id].map {
                Match(
                    house: $0, buildingName: buildings[$0.buildingId], unitName: $0.unitId.flatMap { units[$0] },
                    matched: reasons[id] ?? [])
            }
        }
    }
}
