import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Meter swaps: the one writer of `meter_replacements`. A swap records the old meter's final reading and the new one's
/// start, tells the ingestion writer its memory of the device is stale, audits who did it and why, and accepts the
/// readings held as falling since the swap that it now explains; all in the caller's transaction.
public struct MeterReplacements: Sendable {
    let tenant: TenantSQL
    let effects: (any ReadingEffects)?

    public init(_ tenant: TenantSQL, effects: (any ReadingEffects)?) {
        self.tenant = tenant
        self.effects = effects
    }

    /// A recorded swap.
    public struct Replacement: Codable, Sendable, Hashable {
        public var id: String
        public var deviceId: String
        public var register: String
        public var replacedAt: Date
        public var oldFinal: Quantity
        public var newStart: Quantity
        public var reason: String
        public var createdBy: String
        /// Readings held as falling since the swap that the replacement explains, now accepted.
        public var approvedHeldReadings: [String] = []

        public init(
            id: String, deviceId: String, register: String, replacedAt: Date, oldFinal: Quantity, newStart: Quantity, reason: String,
            createdBy: String, approvedHeldReadings: [String] = []
        ) {
            self.id = id
            self.deviceId = deviceId
            self.register = register
            self.replacedAt = replacedAt
            self.oldFinal = oldFinal
            self.newStart = newStart
            self.reason = reason
            self.createdBy = createdBy
            self.approvedHeldReadings = approvedHeldReadings
        }
    }

    /// Records a swap of `register` on a device of the scope (a device outside it is not found).
    public func record(
        deviceId: String, register: String, replacedAt: Date, oldFinal: Quantity, newStart: Quantity, reason: String, by user: String,
        now: Date
    ) async throws -> Replacement {
        let id = Identifier.uuidV7(at: now)
        let device = try await tenant.store.get(Device.self, id: deviceId)
        try await tenant.insert(
            into: "meter_replacements",
            columns: [
                "id", "community_id", "device_id", "register", "replaced_at", "old_final_milli", "new_start_milli", "reason", "created_by",
                "created_at",
            ],
            values: [
                id, device.communityId, device.id, register, replacedAt.epochMilliseconds, oldFinal.milliUnits, newStart.milliUnits, reason, user,
                now.epochMilliseconds,
            ]
        ).run()
        try await IngestGeneration.bump(tenant.db)
        try await tenant.store.insert(
            AuditEntry(
                id: Identifier.uuidV7(at: now), companyId: tenant.companyId, communityId: device.communityId, actor: user, action: "meter_replaced",
                subjectType: "device", subjectId: device.id, reason: reason,
                beforeState: "\(register) final \(oldFinal.decimalText)", afterState: "\(register) start \(newStart.decimalText)", createdAt: now))
        let known = try await DeviceDirectory.device(device.id, scope: tenant.scope, db: tenant.db)
        let approved = try await ReviewQueue(tenant.db, companyId: tenant.companyId, effects: effects, engine: tenant.engine).applyReplacement(
            device: known, register: register, replacedAt: replacedAt.epochMilliseconds, by: user, note: "meter replacement \(id): \(reason)",
            now: now)
        return Replacement(
            id: id, deviceId: device.id, register: register, replacedAt: replacedAt, oldFinal: oldFinal, newStart: newStart,
            reason: reason, createdBy: user, approvedHeldReadings: approved)
    }
}
