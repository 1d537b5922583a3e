import CourtyardDomain
import Foundation
import SQLKit

/// A house (房屋): the thing fees are charged to and meters are bound to.
public struct House: TenantRecord, Codable, Equatable {
    /// What a house is used for; fee standards may be attached by type.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case residential, villa, commercial, office, storage
    }

    /// Whether anyone lives in or works on the house; vacant houses may get reduced fees later.
    public enum Status: String, Codable, Sendable, CaseIterable {
        case vacant, occupied, decorating, rented
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var buildingId: String
    public var unitId: String?
    public var number: String
    public var floor: Int?
    /// Built area (建筑面积), the usual base of per-m² fees.
    public var builtArea: Area
    /// Indoor area (套内面积).
    public var indoorArea: Area
    public var houseType: Kind
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, buildingId: String, unitId: String?, number: String,
        floor: Int?, builtArea: Area, indoorArea: Area, houseType: Kind, status: Status, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.buildingId = buildingId
        self.unitId = unitId; self.number = number; self.floor = floor; self.builtArea = builtArea
        self.indoorArea = indoorArea; self.houseType = houseType; self.status = status
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "houses"
    public static let columns = [
        "id", "company_id", "community_id", "building_id", "unit_id", "number", "floor",
        "built_area_hundredths", "indoor_area_hundredths", "house_type", "status",
        "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            buildingId: try row.string("building_id"), unitId: try row.optionalString("unit_id"),
            number: try row.string("number"), floor: try row.optionalInt("floor"),
            builtArea: try row.area("built_area_hundredths"), indoorArea: try row.area("indoor_area_hundredths"),
            houseType: try row.value("house_type", as: Kind.self), status: try row.value("status", as: Status.self),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(buildingId), sqlValue(unitId), SQLBind(number),
            sqlValue(floor), SQLBind(builtArea.hundredths), SQLBind(indoorArea.hundredths), SQLBind(houseType.rawValue),
            SQLBind(status.rawValue), SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
