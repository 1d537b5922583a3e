import CourtyardDomain
import Foundation
import SQLKit

/// Which house, parking space, facility or common area a device measures, and from when to when.
///
/// Bindings carry effective dates so that a meter moved or replaced mid-month
/// attributes each reading to the right target; one device has at most one
/// binding on any day.
public struct DeviceBinding: TenantRecord, Codable, Equatable {
    /// What a device can be bound to.
    public enum TargetKind: String, Codable, Sendable, CaseIterable {
        case house
        case parkingSpace = "parking_space"
        case facility
        /// A common meter (lift, corridor lighting) whose usage is apportioned (公摊).
        case commonArea = "common_area"
    }

    public var id: String
    public var companyId: String
    public var communityId: String
    public var deviceId: String
    public var targetKind: TargetKind
    public var targetId: String
    public var validFrom: LocalDate
    public var validUntil: LocalDate?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, companyId: String, communityId: String, deviceId: String, targetKind: TargetKind,
        targetId: String, validFrom: LocalDate, validUntil: LocalDate?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.deviceId = deviceId
        self.targetKind = targetKind; self.targetId = targetId; self.validFrom = validFrom; self.validUntil = validUntil
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public var period: EffectivePeriod { EffectivePeriod(from: validFrom, until: validUntil) }

    public static let table = "device_bindings"
    public static let columns = [
        "id", "company_id", "community_id", "device_id", "target_kind", "target_id", "valid_from",
        "valid_until", "created_at", "updated_at",
    ]

    public init(row: RowReader) throws {
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), communityId: try row.string("community_id"),
            deviceId: try row.string("device_id"), targetKind: try row.value("target_kind", as: TargetKind.self),
            targetId: try row.string("target_id"), validFrom: try row.date("valid_from"),
            validUntil: try row.optionalDate("valid_until"),
            createdAt: try row.instant("created_at"), updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(communityId), SQLBind(deviceId), SQLBind(targetKind.rawValue),
            SQLBind(targetId), SQLBind(validFrom.description), sqlValue(validUntil?.description),
            SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
