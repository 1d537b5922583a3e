import Foundation
import SQLKit

/// A building (楼栋) in a community.
public struct Building: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var communityId: String
    public var name: String
    public var floors: Int?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, companyId: String, communityId: String, name: String, floors: Int?, createdAt: Date, updatedAt: Date) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.name = name
        self.floors = floors; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "buildings"
    public static let columns = ["id", "company_id", "community_id", "name", "floors", "created_at", "updated_at"]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            name: try row.string("name"), floors: try row.optionalInt("floors"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(name), sqlValue(floors),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
