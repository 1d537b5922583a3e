import Foundation
import SQLKit

/// A unit (单元, a stairwell entrance) of a building.
public struct BuildingUnit: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var communityId: String
    public var buildingId: String
    public var name: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, companyId: String, communityId: String, buildingId: String, name: String, createdAt: Date, updatedAt: Date) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.buildingId = buildingId
        self.name = name; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "units"
    public static let columns = ["id", "company_id", "community_id", "building_id", "name", "created_at", "updated_at"]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            buildingId: try row.string("building_id"), name: try row.string("name"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(buildingId), SQLBind(name),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
