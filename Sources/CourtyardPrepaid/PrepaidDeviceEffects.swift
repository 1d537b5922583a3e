import CourtyardDevices
import CourtyardStorage
import Foundation
import SQLKit

/// What prepaid supply control makes of the devices' answers and of time passing (``DeviceEffects``): an acknowledged
/// close or open is the valve's position and news for the owner, a failed command news for staff, an alarm locks the
/// supply, and the periodic sweep carries out deferred cut-offs and overrides that ran out.
public struct PrepaidDeviceEffects: DeviceEffects {
    public init() {}

    public func completed(
        _ command: DeviceCommand, status: CommandLifecycle.AckStatus, error: String?, db: any SQLDatabase,
        engine: Database.Engine, now: Date
    ) async throws {
        try await refusalsAsDeviceErrors {
            try await SupplyController(db, companyId: command.companyId, engine: engine).completed(command, status: status, error: error, now: now)
        }
    }

    public func reported(
        companyId: String, deviceId: String, position: SupplyPosition?, alarm: String?, db: any SQLDatabase,
        engine: Database.Engine, now: Date
    ) async throws {
        try await refusalsAsDeviceErrors {
            try await SupplyController(db, companyId: companyId, engine: engine).report(device: deviceId, position: position, alarm: alarm, now: now)
        }
    }

    /// Deferred cut-offs that fell due, and overrides that ran out, of every company: each device decided again.
    public func sweep(_ db: any SQLDatabase, engine: Database.Engine, now: Date) async throws {
        let millis = now.epochMilliseconds
        let cutoffs = try await TenantSQL.sweep(
            db, "device_id", from: "supply_states",
            where: "cutoff_due_at IS NOT NULL AND cutoff_due_at <= \(bind: millis)")
        let overrides = try await TenantSQL.sweep(
            db, "device_id", from: "supply_overrides",
            where: "ended_at IS NULL AND expires_at <= \(bind: millis)")
        var seen: Set<String> = []
        let due = try (cutoffs + overrides).compactMap { owned -> (String, String)? in
            let device = try RowReader(owned.row, table: "supply_states").string("device_id")
            return seen.insert(owned.companyId + "|" + device).inserted ? (owned.companyId, device) : nil
        }
        for (company, device) in due {
            try await SupplyController(db, companyId: company, engine: engine).expireOverrides(device: device, now: now)
        }
    }

    /// A prepaid refusal (a device without a plan reporting) is the device's refusal: the ack writer undoes exactly that
    /// answer, and the API shows the same code and field.
    private func refusalsAsDeviceErrors(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let refused as PrepaidError {
            let kind: DeviceError.Kind =
                switch refused.kind {
                case .invalid: .invalid
                case .notFound: .notFound
                case .conflict: .conflict
                }
            throw DeviceError(kind, code: refused.code, field: refused.field, refused.message)
        }
    }
}
