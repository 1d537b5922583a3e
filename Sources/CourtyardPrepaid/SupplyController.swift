import CourtyardDevices
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// A device's supply row: what Courtyard wants, what the device last said, and why.
public struct SupplyStatus: Codable, Sendable, Hashable {
    public var deviceId: String
    public var planId: String?
    public var desired: SupplyPosition
    public var reason: String
    public var reported: SupplyPosition?
    public var reportedAt: Int64?
    public var safetyLock: String?
    public var cutoffDueAt: Int64?
    public var reconcileAttempts: Int

    static let columns = "device_id, plan_id, desired, reason, reported, reported_at, safety_lock, cutoff_due_at, reconcile_attempts"

    init(row: any SQLRow) throws {
        let r = RowReader(row, table: "supply_states")
        deviceId = try r.string("device_id")
        planId = try r.optionalString("plan_id")
        desired = SupplyPosition(rawValue: try r.string("desired")) ?? .open
        reason = try r.string("reason")
        reported = try r.optionalString("reported").flatMap(SupplyPosition.init(rawValue:))
        reportedAt = try r.optionalInt64("reported_at")
        safetyLock = try r.optionalString("safety_lock")
        cutoffDueAt = try r.optionalInt64("cutoff_due_at")
        reconcileAttempts = Int(try r.int64("reconcile_attempts"))
    }
}

/// Turns balances, windows, overrides and safety events into desired supply states and queued commands, inside the
/// caller's transaction (the reading's, the top-up's, the ack's), so the command commits with its cause.
public struct SupplyController: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// Adds an override (exemption or engineer hold) to a device under a plan and decides its supply again; returns the
    /// override's id and the command the decision queued, if any.
    public func addOverride(
        device: String, kind: SupplyOverride.Kind, holdState: SupplyPosition?, reason: String, expiresAt: Date,
        actor: String, now: Date
    ) async throws -> (id: String, command: String?) {
        let id = Identifier.uuidV7(at: now)
        try await tenant.insert(
            into: "supply_overrides",
            columns: ["id", "community_id", "device_id", "kind", "hold_state", "reason", "expires_at", "created_by", "created_at"],
            selecting: """
                \(bind: id), community_id, device_id, \(bind: kind.rawValue), \(bind: holdState?.rawValue), \(bind: reason),
                \(bind: expiresAt.epochMilliseconds), \(bind: actor), \(bind: now.epochMilliseconds)
                """, from: "supply_states", where: "device_id = \(bind: device)"
        ).run()
        return (id, try await reevaluate(device: device, now: now))
    }

    /// Ends an active override of `device` and decides its supply again; false when there is no such active override.
    public func endOverride(_ id: String, device: String, actor: String, now: Date) async throws -> Bool {
        guard
            try await tenant.select(
                "id", from: "supply_overrides",
                where: "device_id = \(bind: device) AND id = \(bind: id) AND ended_at IS NULL"
            ).first() != nil
        else { return false }
        try await tenant.update(
            "supply_overrides", set: "ended_at = \(bind: now.epochMilliseconds), ended_by = \(bind: actor)",
            where: "id = \(bind: id)"
        ).run()
        try await reevaluate(device: device, now: now)
        return true
    }

    /// Ends the overrides of `device` whose time ran out and decides its supply again (the dispatcher's sweep).
    @discardableResult
    public func expireOverrides(device: String, now: Date) async throws -> String? {
        try await tenant.update(
            "supply_overrides", set: "ended_at = expires_at, ended_by = 'system:expiry'",
            where: "device_id = \(bind: device) AND ended_at IS NULL AND expires_at <= \(bind: now.epochMilliseconds)"
        ).run()
        return try await reevaluate(device: device, now: now)
    }

    /// Replaces a community's public holidays (friendly windows keep supply on over them).
    public func replaceHolidays(community: String, days: [(day: LocalDate, name: String)]) async throws {
        try await tenant.delete(from: "community_holidays", where: "community_id = \(bind: community)").run()
        for day in days {
            try await tenant.insert(
                into: "community_holidays", columns: ["community_id", "day", "name"],
                values: [community, day.day.description, day.name]
            ).run()
        }
    }

    /// Mismatches between reported and desired state sent again before staff are alerted.
    public static let reconcileLimit = 3

    public func status(device: String) async throws -> SupplyStatus? {
        try await tenant.select("\(unsafeRaw: SupplyStatus.columns)", from: "supply_states", where: "device_id = \(bind: device)").first().map(
            SupplyStatus.init(row:))
    }

    /// Active overrides of a device.
    public func overrides(device: String, now: Int64) async throws -> [SupplyOverride] {
        try await tenant.select(
            "id, kind, hold_state, reason, expires_at", from: "supply_overrides",
            where: "device_id = \(bind: device) AND ended_at IS NULL AND expires_at > \(bind: now)", then: "ORDER BY created_at"
        ).all().map { row in
            let r = RowReader(row, table: "supply_overrides")
            return SupplyOverride(
                id: try r.string("id"), kind: SupplyOverride.Kind(rawValue: try r.string("kind")) ?? .exemption,
                holdState: try r.optionalString("hold_state").flatMap(SupplyPosition.init(rawValue:)),
                reason: try r.string("reason"), expiresAt: try r.int64("expires_at"))
        }
    }

    func holidays(community: String) async throws -> Set<LocalDate> {
        Set(
            try await tenant.select("day", from: "community_holidays", where: "community_id = \(bind: community)").all().compactMap { row in
                LocalDate(try RowReader(row, table: "community_holidays").string("day"))
            })
    }

    /// The plan's available money: its wallets' available balances less the usage owed beyond them.
    public static func available(_ plan: PrepaidPlan, accounts: [String: Account]) -> Int64 {
        let wallets = plan.walletKeys().reduce(Int64(0)) { $0 + (accounts[$1.id]?.available ?? 0) }
        return wallets - (accounts[plan.shortfallKey.id]?.balance ?? 0)
    }

    /// Reads the plan's accounts (without locking).
    public func accounts(_ plan: PrepaidPlan) async throws -> [String: Account] {
        let ids = plan.walletKeys().map(\.id) + [plan.shortfallKey.id]
        let store = LedgerStore(db, companyId: companyId, engine: engine)
        var accounts: [String: Account] = [:]
        for id in ids { if let account = try await store.account(id: id) { accounts[id] = account } }
        return accounts
    }

    /// Re-decides the plan's supply from `available` and queues a command when the desired state changes.
    /// Returns the queued command's id, if one was queued.
    @discardableResult
    public func evaluate(_ plan: PrepaidPlan, available: Int64, zone: TimeZone, now: Date) async throws -> String? {
        let millis = now.epochMilliseconds
        guard let state = try await status(device: plan.deviceId) else { return nil }
        let needsHolidays = plan.config.friendlyWindows.contains { if case .publicHolidays = $0 { true } else { false } }
        let calendar = FriendlyCalendar(
            windows: plan.config.friendlyWindows,
            holidays: needsHolidays ? try await holidays(community: plan.communityId) : [],
            clock: LocalClock(zone: zone))
        let decision = SupplyPolicy.decide(
            .init(
                available: available, emergencyCredit: plan.config.emergencyCredit.minorUnits, now: millis,
                calendar: calendar, overrides: try await overrides(device: plan.deviceId, now: millis),
                safetyLock: state.safetyLock, triggers: Set(plan.config.cutoffTriggers)))
        guard decision.desired != state.desired || decision.reason != state.reason || decision.cutoffDueAt != state.cutoffDueAt else { return nil }
        try await tenant.update(
            "supply_states",
            set: """
                desired = \(bind: decision.desired.rawValue), reason = \(bind: decision.reason), cutoff_due_at = \(bind: decision.cutoffDueAt),
                reconcile_attempts = 0, updated_at = \(bind: millis)
                """, where: "device_id = \(bind: plan.deviceId)"
        ).run()
        if decision.reason == "friendly_window", let due = decision.cutoffDueAt, state.cutoffDueAt != due {
            try await Outbox.record(
                db, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                kind: "cutoff_scheduled", audience: "owner", dedupKey: "cutoff_scheduled:\(plan.deviceId):\(due)",
                payload: ["utility": plan.utility, "cutoff_at": String(due), "available": FixedPoint.format(available, scale: 2)],
                now: now)
        }
        guard decision.desired != state.desired else { return nil }
        return try await CommandQueue(tenant).enqueue(
            communityId: plan.communityId, deviceId: plan.deviceId,
            action: decision.desired, reason: decision.reason, transport: try await transport(plan.deviceId),
            maxAttempts: plan.config.maxAttempts, expirySeconds: plan.config.commandExpirySeconds,
            waitForUplink: plan.config.sleepy, now: now)
    }

    func transport(_ deviceId: String) async throws -> String {
        try await tenant.select("protocol", from: "devices", where: "id = \(bind: deviceId)").first()
            .map { try RowReader($0, table: "devices").string("protocol") } ?? "mqtt"
    }

    /// Re-evaluates the plan of `device` with balances read now (overrides, safety events, window ends, acks).
    @discardableResult
    public func reevaluate(device: String, now: Date) async throws -> String? {
        guard let state = try await status(device: device), let planId = state.planId,
            let plan = try await PlanStore(db, companyId: companyId).plan(id: planId), plan.status == "active"
        else { return nil }
        let zone = try await self.zone(plan.communityId)
        return try await evaluate(plan, available: Self.available(plan, accounts: try await accounts(plan)), zone: zone, now: now)
    }

    func zone(_ community: String) async throws -> TimeZone {
        let name = try await db.raw("SELECT time_zone FROM communities WHERE id = \(bind: community)").first()
            .map { try RowReader($0, table: "communities").string("time_zone") }
        return name.flatMap(TimeZone.init(identifier:)) ?? .gmt
    }

    // MARK: What devices say

    /// A command's final answer, in the ack's transaction (``PrepaidDeviceEffects``): a succeeded command is the
    /// device's position now, and the owner hears of the cut-off or restore; a failed one alerts staff.
    func completed(_ command: DeviceCommand, status: CommandLifecycle.AckStatus, error: String?, now: Date) async throws {
        let device = command.deviceId
        let plan = try await planOf(device: device)
        if status == .succeeded {
            try await report(device: device, position: command.action, alarm: nil, now: now, fromAck: true)
            if let plan {
                let kind = command.action == .closed ? "cutoff_done" : "restored"
                try await Outbox.record(
                    db, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: device,
                    kind: kind, audience: "owner", dedupKey: "\(kind):\(command.id)",
                    payload: ["utility": plan.utility, "reason": command.reason, "command_id": command.id], now: now)
            }
        } else {
            try await Outbox.record(
                db, companyId: companyId, communityId: command.communityId, houseId: plan?.houseId, deviceId: device,
                kind: "command_failed", audience: "staff", dedupKey: "command_failed:\(command.id)",
                payload: [
                    "command_id": command.id, "action": DeviceCommand.actionText(command.action),
                    "error": error ?? "refused by the device",
                ], now: now)
        }
    }

    func planOf(device: String) async throws -> PrepaidPlan? {
        guard let planId = try await status(device: device)?.planId else { return nil }
        return try await PlanStore(db, companyId: companyId).plan(id: planId)
    }

    /// What a device reports about itself: its valve/switch position and any alarm (`gas_leak`, `abnormal_flow`).
    ///
    /// An alarm locks the supply closed regardless of balance and alerts staff and owner. A position different from
    /// the desired one, with nothing in flight, is sent again up to ``reconcileLimit`` times, then staff are alerted.
    public func report(device: String, position: SupplyPosition?, alarm: String?, now: Date, fromAck: Bool = false) async throws {
        let millis = now.epochMilliseconds
        guard var state = try await status(device: device) else {
            throw PrepaidError(.notFound, code: "no_supply_control", field: "device_id", "this device has no prepaid plan")
        }
        if let position {
            try await tenant.update(
                "supply_states", set: "reported = \(bind: position.rawValue), reported_at = \(bind: millis)",
                where: "device_id = \(bind: device)"
            ).run()
            state.reported = position
        }
        let plan = try await planOf(device: device)
        if let alarm, state.safetyLock == nil {
            try await tenant.update(
                "supply_states", set: "safety_lock = \(bind: alarm), updated_at = \(bind: millis)",
                where: "device_id = \(bind: device)"
            ).run()
            let community =
                try await tenant.select("community_id", from: "supply_states", where: "device_id = \(bind: device)").first()
                .map { try RowReader($0, table: "supply_states").string("community_id") } ?? ""
            try await Outbox.record(
                db, companyId: companyId, communityId: community, houseId: plan?.houseId, deviceId: device,
                kind: "gas_alarm", audience: "owner,staff", dedupKey: "safety:\(device):\(millis)",
                payload: ["alarm": alarm, "action": "valve closed regardless of balance"], now: now)
            if try await reevaluate(device: device, now: now) == nil, let plan {
                // No plan change (already closed): make sure a close is on its way.
                try await CommandQueue(tenant).enqueue(
                    communityId: plan.communityId, deviceId: device, action: .closed,
                    reason: "safety:" + alarm, transport: try await transport(device),
                    maxAttempts: plan.config.maxAttempts, expirySeconds: plan.config.commandExpirySeconds, now: now)
            }
            return
        }
        guard !fromAck, let reported = state.reported, reported != state.desired, let plan else {
            if let reported = state.reported, reported == state.desired, state.reconcileAttempts > 0 {
                try await tenant.update("supply_states", set: "reconcile_attempts = 0", where: "device_id = \(bind: device)").run()
            }
            return
        }
        guard try await CommandQueue(tenant).open(deviceId: device).isEmpty else { return }
        if state.reconcileAttempts >= Self.reconcileLimit {
            try await Outbox.record(
                db, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: device,
                kind: "supply_mismatch", audience: "staff",
                dedupKey: "supply_mismatch:\(device):\(state.desired.rawValue):\(state.reconcileAttempts)",
                payload: [
                    "desired": state.desired.rawValue, "reported": reported.rawValue,
                    "attempts": String(state.reconcileAttempts),
                ], now: now)
            return
        }
        try await tenant.update("supply_states", set: "reconcile_attempts = reconcile_attempts + 1", where: "device_id = \(bind: device)").run()
        try await CommandQueue(tenant).enqueue(
            communityId: plan.communityId, deviceId: device, action: state.desired,
            reason: "reconcile", transport: try await transport(device), maxAttempts: plan.config.maxAttempts,
            expirySeconds: plan.config.commandExpirySeconds, now: now)
    }

    /// Ends a safety lock after an engineer checked the site; the supply follows the balance again.
    public func clearSafety(device: String, now: Date) async throws -> String? {
        guard try await status(device: device)?.safetyLock != nil else {
            throw PrepaidError(.conflict, code: "no_safety_lock", field: "device_id", "the supply of this device is not locked for safety")
        }
        try await tenant.update(
            "supply_states", set: "safety_lock = NULL, updated_at = \(bind: now.epochMilliseconds)",
            where: "device_id = \(bind: device)"
        ).run()
        return try await reevaluate(device: device, now: now)
    }
}
