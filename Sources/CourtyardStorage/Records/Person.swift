import Foundation
import SQLKit

/// A person known to a community: an owner, resident or tenant (linked to houses by ``Occupancy``).
public struct Person: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var communityId: String
    public var name: String
    /// Mobile number; personal data, never logged.
    public var phone: String?
    public var email: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, name: String, phone: String?, email: String?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.name = name
        self.phone = phone; self.email = email; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "people"
    public static let columns = ["id", "company_id", "community_id", "name", "phone", "email", "created_at", "updated_at"]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            name: try row.string("name"), phone: try row.optionalString("phone"), email: try row.optionalString("email"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(name), sqlValue(phone), sqlValue(email),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
