import CourtyardDevices
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import Synchronization

/// The fast path of the deduction: the same rating, split and ledger rules as ``PrepaidDeduction/apply(_:engine:companyId:readings:now:)``,
/// run with prepared statements on the ingestion writer's fast connection inside its transaction, for the steady state:
/// readings newer than their plan's last one, on plans that neither cross a warning threshold nor run out of money in this
/// batch. Anything else (a late reading, a warning to record, a supply to decide) answers false, and the whole batch
/// runs on the SQLKit path, which decides every case.
extension PrepaidDeduction {
    public var supportsFastPath: Bool { true }

    public func applyFast(_ sql: TenantFastSQL, readings: [AcceptedReading], now: Date) throws -> Bool {
        let select = try sql.prepare(Self.activePlans)
        var plans: [PrepaidPlan] = []
        var index: [String: Int] = [:]
        for device in Set(readings.map(\.device.id)) {
            select.reset()
            select.bind(2, device)
            while try select.step() {
                let plan = try Self.plan(select, companyId: sql.companyId)
                index[plan.deviceId + "\u{1}" + plan.register] = plans.count
                plans.append(plan)
            }
            select.reset()
        }
        guard !plans.isEmpty else { return true }
        var charges: [Charge] = []
        var touched: Set<Int> = []
        for reading in readings {
            guard let planIndex = index[reading.device.id + "\u{1}" + reading.register] else { continue }
            let plan = plans[planIndex]
            if let last = plan.lastMeasuredAt, reading.measuredAt < last { return false }
            let rule = plan.config.ratingRule
            let (day, minute) = LocalClock(zone: reading.device.timeZone).local(reading.measuredAt)
            let key = Rating.periodKey(rule, day: day)
            let position = key == plan.periodKey ? plan.periodUsage : 0
            let charge = try Self.charge(
                reading, planIndex: planIndex, plan: plan, day: day, key: key,
                window: Rating.window(rule, minute: minute), position: position)
            plans[planIndex].periodKey = key
            plans[planIndex].periodUsage = position + reading.usage
            plans[planIndex].lastMeasuredAt = reading.measuredAt
            plans[planIndex].carry = charge.carryAfter
            charges.append(charge)
            touched.insert(planIndex)
        }
        guard !charges.isEmpty else { return true }
        let millis = now.epochMilliseconds
        // The utility receivable is read only for plans that may owe (their charges exceed what their wallets hold, or they
        // owe already): most batches never touch it. A plan that owes anyway (wallets shared with another plan of the
        // house) sends the batch to the SQLKit path, which reads every account.
        let owing = try Self.mayOwe(sql.connection, charges: charges, plans: plans)
        let available: [(Int, Int64)]
        do {
            available = try sql.applyLedger(probes: Self.probes(charges, plans: plans, shortfall: owing), now: now) { state in
                try Self.split(&charges, plans: plans, state: &state, millis: millis, shortfallLoaded: owing)
                return touched.map { ($0, SupplyController.available(plans[$0], accounts: state.accounts)) }
            }
        } catch is NeedsCarefulPath {
            return false
        }
        // Warnings and supply decisions, as the SQLKit path makes them (same policy, same rows), in this transaction.
        for (planIndex, money) in available {
            let plan = plans[planIndex]
            if !plan.warned, let warn = plan.config.warnBelow, money <= warn.minorUnits {
                try Outbox.record(
                    sql, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                    kind: "low_balance", audience: "owner", dedupKey: "low_balance:\(plan.id):\(millis)",
                    payload: [
                        "utility": plan.utility, "available": FixedPoint.format(money, scale: 2),
                        "threshold": warn.decimalText,
                    ], now: now)
                plans[planIndex].warned = true
            }
            if SupplyPolicy.isExhausted(available: money, emergencyCredit: plan.config.emergencyCredit.minorUnits),
                try Self.supplyReason(sql, device: plan.deviceId) == "balance"
            {
                let zone = readings.first { $0.device.id == plan.deviceId }?.device.timeZone ?? .gmt
                try RawSupply.evaluate(sql, plan: plan, available: money, zone: zone, now: now)
            }
        }
        let insert = try sql.prepare(Self.chargeInsert)
        for charge in charges {
            let plan = plans[charge.planIndex]
            insert.reset()
            insert.bind(2, charge.id)
            insert.bind(3, plan.communityId)
            insert.bind(4, plan.id)
            insert.bind(5, charge.reading.readingId)
            insert.bind(6, charge.kind)
            insert.bind(7, charge.reading.measuredAt)
            insert.bind(8, LocalClock.date(day: charge.localDay).description)
            insert.bind(9, charge.periodKey)
            insert.bind(10, charge.usage)
            insert.bind(11, charge.position)
            insert.bind(12, charge.window)
            insert.bind(13, charge.exact)
            insert.bind(14, charge.amount)
            insert.bind(15, plan.config.ratingRule.rounding.rawValue)
            insert.bind(16, charge.carryAfter)
            insert.bind(17, charge.fromWallets)
            insert.bind(18, charge.toShortfall)
            insert.bind(19, charge.detail)
            insert.bind(20, millis)
            try insert.run()
        }
        insert.reset()
        let save = try sql.prepare(Self.runningUpdate)
        for planIndex in touched {
            let plan = plans[planIndex]
            save.reset()
            save.bind(2, plan.id)
            save.bind(3, plan.periodKey)
            save.bind(4, plan.periodUsage)
            save.bind(5, plan.carry)
            save.bind(6, plan.lastMeasuredAt)
            save.bind(7, Int64(plan.warned ? 1 : 0))
            try save.run()
        }
        save.reset()
        return true
    }

    /// Plans whose charges in this batch exceed their wallets' available balance, or that owe already.
    static func mayOwe(_ connection: any FastConnection, charges: [Charge], plans: [PrepaidPlan]) throws -> Set<Int> {
        var due: [Int: Int64] = [:]
        for charge in charges { due[charge.planIndex, default: 0] += charge.amount }
        var result: Set<Int> = []
        for (planIndex, amount) in due {
            let plan = plans[planIndex]
            if let owed = try connection.ledgerBalance(of: plan.shortfallKey.id), owed.debitsPosted != owed.creditsPosted {
                result.insert(planIndex)
                continue
            }
            var available: Int64 = 0
            for wallet in plan.walletKeys() {
                if let balance = try connection.ledgerBalance(of: wallet.id) {
                    available += balance.creditsPosted - balance.debitsPosted - balance.debitsPending
                }
            }
            if available < amount { result.insert(planIndex) }
        }
        return result
    }

    static func supplyReason(_ sql: TenantFastSQL, device: String) throws -> String? {
        let query = try sql.prepare(RawSupply.supplyReason)
        query.bind(2, device)
        defer { query.reset() }
        return try query.step() ? query.string(0) : nil
    }

    /// A device's active plans with their running state (columns in the order ``plan(_:companyId:)`` reads).
    static let activePlans = TenantQuery.select(
        """
        p.id, p.community_id, p.house_id, p.device_id, p.register, p.utility, p.config, p.status, p.created_by, \
        p.created_at, p.updated_at, r.period_key, r.period_usage_milli, r.carry_exact, r.last_measured_at, r.warned
        """,
        from: "prepaid_plans", as: "p", joining: [.inner("prepaid_running", as: "r", on: "r.plan_id = p.id")],
        where: "p.status = 'active' AND p.device_id = ?2")

    static let chargeInsert = TenantQuery.insert(
        into: "prepaid_charges",
        columns: [
            "id", "community_id", "plan_id", "reading_id", "kind", "measured_at", "local_day", "period_key", "usage_milli",
            "position_milli", "time_window", "exact", "amount", "rounding", "carry_after", "from_wallets", "to_shortfall", "detail",
            "created_at",
        ])

    static let runningUpdate = TenantQuery.update(
        "prepaid_running", set: "period_key = ?3, period_usage_milli = ?4, carry_exact = ?5, last_measured_at = ?6, warned = ?7",
        where: "plan_id = ?2")

    /// A plan of company `companyId` from a row of ``activePlans``.
    static func plan(_ row: any FastStatement, companyId: String) throws -> PrepaidPlan {
        let id = row.string(0)
        let updatedAt = row.int64(10)
        let config: PlanConfig
        do { config = try PlanConfigCache.shared.config(id: id, updatedAt: updatedAt, text: row.string(6)) } catch {
            throw StorageError.corruptRow(table: "prepaid_plans", column: "config")
        }
        return PrepaidPlan(
            id: id, companyId: companyId, communityId: row.string(1), houseId: row.string(2), deviceId: row.string(3),
            register: row.string(4), utility: row.string(5), config: config, status: row.string(7), createdBy: row.string(8),
            createdAt: row.int64(9), updatedAt: updatedAt, periodKey: row.optionalString(11), periodUsage: row.int64(12),
            carry: row.int64(13), lastMeasuredAt: row.optionalInt64(14), warned: row.int64(15) != 0)
    }
}

/// ``SupplyController/evaluate(_:available:zone:now:)`` on the fast connection, for the deduction's fast path: the same
/// pure policy and the same rows; commands go through ``CommandQueue`` and notices through ``Outbox``, their tables' owners.
enum RawSupply {
    static let supplyReason = TenantQuery.select("reason", from: "supply_states", where: "device_id = ?2")
    static let supplyState = TenantQuery.select("desired, reason, cutoff_due_at, safety_lock", from: "supply_states", where: "device_id = ?2")
    static let activeOverrides = TenantQuery.select(
        "id, kind, hold_state, reason, expires_at", from: "supply_overrides", where: "device_id = ?2 AND ended_at IS NULL AND expires_at > ?3",
        then: "ORDER BY created_at")
    static let holidays = TenantQuery.select("day", from: "community_holidays", where: "community_id = ?2")
    static let supplyUpdate = TenantQuery.update(
        "supply_states", set: "desired = ?3, reason = ?4, cutoff_due_at = ?5, reconcile_attempts = 0, updated_at = ?6", where: "device_id = ?2")

    static func evaluate(_ sql: TenantFastSQL, plan: PrepaidPlan, available: Int64, zone: TimeZone, now: Date) throws {
        let millis = now.epochMilliseconds
        let stateQuery = try sql.prepare(supplyState)
        stateQuery.bind(2, plan.deviceId)
        guard try stateQuery.step() else { stateQuery.reset(); return }
        let desired = SupplyPosition(rawValue: stateQuery.string(0)) ?? .open
        let reason = stateQuery.string(1)
        let due = stateQuery.optionalInt64(2)
        let lock = stateQuery.optionalString(3)
        stateQuery.reset()
        var overrides: [SupplyOverride] = []
        let overrideQuery = try sql.prepare(activeOverrides)
        overrideQuery.bind(2, plan.deviceId)
        overrideQuery.bind(3, millis)
        while try overrideQuery.step() {
            overrides.append(
                SupplyOverride(
                    id: overrideQuery.string(0), kind: SupplyOverride.Kind(rawValue: overrideQuery.string(1)) ?? .exemption,
                    holdState: overrideQuery.optionalString(2).flatMap(SupplyPosition.init(rawValue:)),
                    reason: overrideQuery.string(3), expiresAt: overrideQuery.int64(4)))
        }
        overrideQuery.reset()
        var holidays: Set<LocalDate> = []
        if plan.config.friendlyWindows.contains(where: { if case .publicHolidays = $0 { true } else { false } }) {
            let holidayQuery = try sql.prepare(Self.holidays)
            holidayQuery.bind(2, plan.communityId)
            while try holidayQuery.step() { if let day = LocalDate(holidayQuery.string(0)) { holidays.insert(day) } }
            holidayQuery.reset()
        }
        let decision = SupplyPolicy.decide(
            .init(
                available: available, emergencyCredit: plan.config.emergencyCredit.minorUnits, now: millis,
                calendar: FriendlyCalendar(
                    windows: plan.config.friendlyWindows, holidays: holidays,
                    clock: LocalClock(zone: zone)),
                overrides: overrides, safetyLock: lock, triggers: Set(plan.config.cutoffTriggers)))
        guard decision.desired != desired || decision.reason != reason || decision.cutoffDueAt != due else { return }
        let update = try sql.prepare(supplyUpdate)
        update.bind(2, plan.deviceId)
        update.bind(3, decision.desired.rawValue)
        update.bind(4, decision.reason)
        update.bind(5, decision.cutoffDueAt)
        update.bind(6, millis)
        try update.run()
        update.reset()
        if decision.reason == "friendly_window", let cutoff = decision.cutoffDueAt, due != cutoff {
            try Outbox.record(
                sql, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                kind: "cutoff_scheduled", audience: "owner", dedupKey: "cutoff_scheduled:\(plan.deviceId):\(cutoff)",
                payload: ["utility": plan.utility, "cutoff_at": String(cutoff), "available": FixedPoint.format(available, scale: 2)],
                now: now)
        }
        guard decision.desired != desired else { return }
        try CommandQueue.enqueue(
            sql, communityId: plan.communityId, deviceId: plan.deviceId, action: decision.desired, reason: decision.reason,
            maxAttempts: plan.config.maxAttempts, expirySeconds: plan.config.commandExpirySeconds, waitForUplink: plan.config.sleepy,
            now: now)
    }
}
