import Foundation
import SQLKit

/// A vehicle known by its licence plate, linked to a person, house and space.
public struct Vehicle: TenantRecord, Codable, Equatable {
    /// Fuel type; new-energy plates (green, 8 characters) matter for charging piles and some fees.
    public enum Energy: String, Codable, Sendable, CaseIterable {
        case fuel, electric, hybrid
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    /// Normalized plate (uppercase, no spaces or separators), e.g. 浙A12345.
    public var plate: String
    public var personId: String?
    public var houseId: String?
    public var parkingSpaceId: String?
    public var energy: Energy
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, plate: String, personId: String?, houseId: String?,
        parkingSpaceId: String?, energy: Energy, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.plate = plate
        self.personId = personId; self.houseId = houseId; self.parkingSpaceId = parkingSpaceId; self.energy = energy
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "vehicles"
    public static let columns = [
        "id", "company_id", "community_id", "plate", "person_id", "house_id", "parking_space_id",
        "energy", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            plate: try row.string("plate"), personId: try row.optionalString("person_id"),
            houseId: try row.optionalString("house_id"), parkingSpaceId: try row.optionalString("parking_space_id"),
            energy: try row.value("energy", as: Energy.self),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(plate), sqlValue(personId), sqlValue(houseId),
            sqlValue(parkingSpaceId), SQLBind(energy.rawValue), SQLBind(createdAt.epochMilliseconds),
            SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
