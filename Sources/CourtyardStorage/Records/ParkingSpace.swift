import CourtyardDomain
import Foundation
import SQLKit

/// A parking space (车位): owned by a house, rented monthly, or public.
public struct ParkingSpace: TenantRecord, Codable, Equatable {
    /// How the space is held.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case owned, rented, `public`, reserved
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var code: String
    public var kind: Kind
    /// The house it belongs to or is rented by, if any.
    public var houseId: String?
    public var area: Area?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, code: String, kind: Kind, houseId: String?, area: Area?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.code = code; self.kind = kind
        self.houseId = houseId; self.area = area; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "parking_spaces"
    public static let columns = [
        "id", "company_id", "community_id", "code", "kind", "house_id", "area_hundredths",
        "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            code: try row.string("code"), kind: try row.value("kind", as: Kind.self),
            houseId: try row.optionalString("house_id"), area: try row.optionalArea("area_hundredths"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(code), SQLBind(kind.rawValue), sqlValue(houseId),
            sqlValue(area?.hundredths), SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
