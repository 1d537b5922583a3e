import CourtyardDomain
import CourtyardStorage
import Foundation

extension Building: APIResource {
    /// Writable fields of a building.
    struct Input: Codable, Sendable {
        var communityId: String
        var name: String
        var floors: Int?
    }

    static let path = "buildings"
    static let displayName = "Building"
    static let readPermission = Permission.readProperty
    static let writePermission = Permission.manageProperty
    static let filters = ["community_id"]
    static let requiredInputFields = ["community_id", "name"]
    static var example: Building {
        Building(
            id: Example.building, companyId: Example.company, communityId: Example.community, name: "3幢", floors: 18,
            createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(communityId: communityId, name: name, floors: floors) }

    static func make(_ input: Input, id: String, existing: Building?, now: Date, store: ScopedStore) async throws -> Building {
        var check = Validator()
        check.text(input.name, "name", maxLength: 64)
        if let floors = input.floors { check.check((1...200).contains(floors), "floors", "out_of_range", "floors must be 1 to 200") }
        check.unchanged(input.communityId, existing?.communityId, "community_id")
        try check.finish()
        _ = try await store.reference(Community.self, id: input.communityId, field: "community_id")
        return Building(
            id: id, companyId: store.scope.companyId, communityId: input.communityId, name: input.name,
            floors: input.floors, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}

extension BuildingUnit: APIResource {
    /// Writable fields of a unit.
    struct Input: Codable, Sendable {
        var buildingId: String
        var name: String
    }

    static let path = "units"
    static let displayName = "Unit"
    static let readPermission = Permission.readProperty
    static let writePermission = Permission.manageProperty
    static let filters = ["community_id", "building_id"]
    static let requiredInputFields = ["building_id", "name"]
    static var example: BuildingUnit {
        BuildingUnit(
            id: Example.unit, companyId: Example.company, communityId: Example.community, buildingId: Example.building,
            name: "1单元", createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(buildingId: buildingId, name: name) }

    static func make(_ input: Input, id: String, existing: BuildingUnit?, now: Date, store: ScopedStore) async throws -> BuildingUnit {
        var check = Validator()
        check.text(input.name, "name", maxLength: 64)
        check.unchanged(input.buildingId, existing?.buildingId, "building_id")
        try check.finish()
        let building = try await store.reference(Building.self, id: input.buildingId, field: "building_id")
        return BuildingUnit(
            id: id, companyId: store.scope.companyId, communityId: building.communityId,
            buildingId: building.id, name: input.name, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}
