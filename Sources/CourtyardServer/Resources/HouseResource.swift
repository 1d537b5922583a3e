import CourtyardDomain
import CourtyardStorage
import Foundation

extension House: APIResource {
    /// Writable fields of a house; the community follows from the building.
    struct Input: Codable, Sendable {
        var buildingId: String
        var unitId: String?
        var number: String
        var floor: Int?
        var builtArea: Area
        var indoorArea: Area
        var houseType: Kind?
        var status: Status?
    }

    static let path = "houses"
    static let displayName = "House"
    static let readPermission = Permission.readProperty
    static let writePermission = Permission.manageProperty
    static let filters = ["community_id", "building_id", "unit_id", "status", "house_type"]
    static let requiredInputFields = ["building_id", "number", "built_area", "indoor_area"]
    static var example: House {
        House(
            id: Example.house, companyId: Example.company, communityId: Example.community, buildingId: Example.building,
            unitId: Example.unit, number: "1202", floor: 12, builtArea: Area(hundredths: 8720), indoorArea: Area(hundredths: 7150),
            houseType: .residential, status: .occupied, createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input {
        Input(
            buildingId: buildingId, unitId: unitId, number: number, floor: floor, builtArea: builtArea,
            indoorArea: indoorArea, houseType: houseType, status: status)
    }

    static func make(_ input: Input, id: String, existing: House?, now: Date, store: ScopedStore) async throws -> House {
        var check = Validator()
        check.text(input.number, "number", maxLength: 32)
        check.positive(input.builtArea, "built_area")
        check.positive(input.indoorArea, "indoor_area")
        check.check(input.builtArea.hundredths <= 10_000_000, "built_area", "out_of_range", "built_area must be at most 100000.00 m²")
        check.check(
            input.indoorArea <= input.builtArea || input.indoorArea.hundredths <= 0 || input.builtArea.hundredths <= 0,
            "indoor_area", "exceeds_built_area", "indoor_area cannot exceed built_area")
        if let floor = input.floor { check.check((-10...200).contains(floor), "floor", "out_of_range", "floor must be -10 to 200") }
        check.unchanged(input.buildingId, existing?.buildingId, "building_id")
        try check.finish()
        let building = try await store.reference(Building.self, id: input.buildingId, field: "building_id")
        if let unitId = input.unitId {
            let unit = try await store.reference(BuildingUnit.self, id: unitId, field: "unit_id")
            guard unit.buildingId == building.id else {
                throw Problem.invalid("unit_id", code: "other_building", "unit_id belongs to another building")
            }
        }
        return House(
            id: id, companyId: store.scope.companyId, communityId: building.communityId, buildingId: building.id,
            unitId: input.unitId, number: input.number, floor: input.floor, builtArea: input.builtArea,
            indoorArea: input.indoorArea, houseType: input.houseType ?? .residential,
            status: input.status ?? .vacant, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}
