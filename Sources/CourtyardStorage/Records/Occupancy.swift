import CourtyardDomain
import Foundation
import SQLKit

/// A person's link to a house in a role, over a period: who owns, lives in or rents it, and when.
///
/// Bills pro-rate by these dates, and owner accounts see the houses they
/// currently occupy.
public struct Occupancy: TenantRecord, Codable, Equatable {
    /// The capacity in which a person is linked to a house.
    public enum Role: String, Codable, Sendable, CaseIterable {
        case owner, resident, tenant
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var houseId: String
    public var personId: String
    public var role: Role
    public var validFrom: LocalDate
    /// Exclusive end; `nil` while the link holds.
    public var validUntil: LocalDate?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, houseId: String, personId: String, role: Role,
        validFrom: LocalDate, validUntil: LocalDate?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.houseId = houseId
        self.personId = personId; self.role = role; self.validFrom = validFrom; self.validUntil = validUntil
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public var period: EffectivePeriod { EffectivePeriod(from: validFrom, until: validUntil) }

    public static let table = "occupancies"
    public static let columns = [
        "id", "company_id", "community_id", "house_id", "person_id", "role", "valid_from",
        "valid_until", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            houseId: try row.string("house_id"), personId: try row.string("person_id"),
            role: try row.value("role", as: Role.self), validFrom: try row.date("valid_from"),
            validUntil: try row.optionalDate("valid_until"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(houseId), SQLBind(personId), SQLBind(role.rawValue),
            SQLBind(validFrom.description), sqlValue(validUntil?.description),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
