import CourtyardDevices
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import Synchronization

/// The SQLite raw path of the deduction: the same rating, split and ledger rules as ``PrepaidDeduction/apply(_:engine:companyId:readings:now:)``,
/// run with prepared statements on the ingestion writer's raw connection inside its transaction, for the steady state:
/// readings newer than their plan's last one, on plans that neither cross a warning threshold nor run out of money in this
/// batch. Anything else (a late reading, a warning to record, a supply to decide) answers false, and the whole batch
/// runs on the SQLKit path, which decides every case.
extension PrepaidDeduction {
    public var supportsRawSQLite: Bool { true }

    public func applyRaw(_ raw: RawSQLite, companyId: String, readings: [AcceptedReading], now: Date) throws -> Bool {
        let select = try raw.statement("SELECT \(Self.planColumns) WHERE p.company_id = ?1 AND p.status = 'active' AND p.device_id = ?2")
        var plans: [PrepaidPlan] = []
        var index: [String: Int] = [:]
        for device in Set(readings.map(\.device.id)) {
            select.reset()
            select.bind(1, companyId)
            select.bind(2, device)
            while try select.step() {
                let plan = try Self.plan(select)
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
        let owing = try Self.mayOwe(raw, charges: charges, plans: plans)
        let available: [(Int, Int64)]
        do {
            available = try raw.applyLedger(companyId: companyId, probes: Self.probes(charges, plans: plans, shortfall: owing), now: now) { state in
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
                try RawSupply.outbox(
                    raw, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                    kind: "low_balance", audience: "owner", dedupKey: "low_balance:\(plan.id):\(millis)",
                    payload: [
                        "utility": plan.utility, "available": FixedPoint.format(money, scale: 2),
                        "threshold": warn.decimalText,
                    ], now: now)
                plans[planIndex].warned = true
            }
            if SupplyPolicy.isExhausted(available: money, emergencyCredit: plan.config.emergencyCredit.minorUnits),
                try Self.supplyReason(raw, device: plan.deviceId) == "balance"
            {
                let zone = readings.first { $0.device.id == plan.deviceId }?.device.timeZone ?? .gmt
                try RawSupply.evaluate(raw, companyId: companyId, plan: plan, available: money, zone: zone, now: now)
            }
        }
        let insert = try raw.statement(
            """
            INSERT INTO prepaid_charges (id, company_id, community_id, plan_id, reading_id, kind, measured_at, local_day, period_key, usage_milli,
                                         position_milli, time_window, exact, amount, rounding, carry_after, from_wallets, to_shortfall, detail, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
            """)
        for charge in charges {
            let plan = plans[charge.planIndex]
            insert.reset()
            insert.bind(1, charge.id)
            insert.bind(2, companyId)
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
        let save = try raw.statement(
            """
            UPDATE prepaid_running SET period_key = ?2, period_usage_milli = ?3, carry_exact = ?4, last_measured_at = ?5, warned = ?6
            WHERE plan_id = ?1
            """)
        for planIndex in touched {
            let plan = plans[planIndex]
            save.reset()
            save.bind(1, plan.id)
            save.bind(2, plan.periodKey)
            save.bind(3, plan.periodUsage)
            save.bind(4, plan.carry)
            save.bind(5, plan.lastMeasuredAt)
            save.bind(6, Int64(plan.warned ? 1 : 0))
            try save.run()
        }
        save.reset()
        return true
    }

    /// Plans whose charges in this batch exceed their wallets' available balance, or that owe already.
    static func mayOwe(_ raw: RawSQLite, charges: [Charge], plans: [PrepaidPlan]) throws -> Set<Int> {
        var due: [Int: Int64] = [:]
        for charge in charges { due[charge.planIndex, default: 0] += charge.amount }
        let balance = try raw.statement("SELECT credits_posted - debits_posted - debits_pending FROM ledger_balances WHERE account_id = ?1")
        let owed = try raw.statement("SELECT debits_posted - credits_posted FROM ledger_balances WHERE account_id = ?1")
        var result: Set<Int> = []
        for (planIndex, amount) in due {
            let plan = plans[planIndex]
            owed.reset()
            owed.bind(1, plan.shortfallKey.id)
            let owes = try owed.step() && owed.int64(0) != 0
            owed.reset()
            if owes {
                result.insert(planIndex)
                continue
            }
            var available: Int64 = 0
            for wallet in plan.walletKeys() {
                balance.reset()
                balance.bind(1, wallet.id)
                if try balance.step() { available += balance.int64(0) }
                balance.reset()
            }
            if available < amount { result.insert(planIndex) }
        }
        return result
    }

    static func supplyReason(_ raw: RawSQLite, device: String) throws -> String? {
        let query = try raw.statement("SELECT reason FROM supply_states WHERE device_id = ?1")
        query.bind(1, device)
        defer { query.reset() }
        return try query.step() ? query.string(0) : nil
    }

    /// A plan with its running state, for the raw path's prepared statement (columns in the order ``plan(_:)`` reads).
    static let planColumns = """
        p.id, p.company_id, p.community_id, p.house_id, p.device_id, p.register, p.utility, p.config, p.status, p.created_by, \
        p.created_at, p.updated_at, r.period_key, r.period_usage_milli, r.carry_exact, r.last_measured_at, r.warned \
        FROM prepaid_plans p JOIN prepaid_running r ON r.plan_id = p.id
        """

    /// A plan from a raw row of ``planColumns``.
    static func plan(_ row: RawSQLite.Statement) throws -> PrepaidPlan {
        let id = row.string(0)
        let updatedAt = row.int64(11)
        let config: PlanConfig
        do { config = try PlanConfigCache.shared.config(id: id, updatedAt: updatedAt, text: row.string(7)) } catch {
            throw StorageError.corruptRow(table: "prepaid_plans", column: "config")
        }
        return PrepaidPlan(
            id: id, companyId: row.string(1), communityId: row.string(2), houseId: row.string(3), deviceId: row.string(4),
            register: row.string(5), utility: row.string(6), config: config, status: row.string(8), createdBy: row.string(9),
            createdAt: row.int64(10), updatedAt: updatedAt, periodKey: row.optionalString(12), periodUsage: row.int64(13),
            carry: row.int64(14), lastMeasuredAt: row.optionalInt64(15), warned: row.int64(16) != 0)
    }
}

/// ``SupplyController/evaluate(_:available:zone:now:)``, ``CommandQueue/enqueue(communityId:deviceId:action:reason:transport:maxAttempts:expirySeconds:waitForUplink:now:)``
/// (``CommandLifecycle/desire(_:open:)``: nothing is queued when the newest open command asks for the same) and ``Outbox/record`` on the raw
/// connection, for the deduction's raw path: the same pure policy, the same rows.
enum RawSupply {
    static func evaluate(_ raw: RawSQLite, companyId: String, plan: PrepaidPlan, available: Int64, zone: TimeZone, now: Date) throws {
        let millis = now.epochMilliseconds
        let stateQuery = try raw.statement(
            """
            SELECT desired, reason, cutoff_due_at, safety_lock FROM supply_states WHERE company_id = ?1 AND device_id = ?2
            """)
        stateQuery.bind(1, companyId)
        stateQuery.bind(2, plan.deviceId)
        guard try stateQuery.step() else { stateQuery.reset(); return }
        let desired = SupplyPosition(rawValue: stateQuery.string(0)) ?? .open
        let reason = stateQuery.string(1)
        let due = stateQuery.optionalInt64(2)
        let lock = stateQuery.optionalString(3)
        stateQuery.reset()
        var overrides: [SupplyOverride] = []
        let overrideQuery = try raw.statement(
            """
            SELECT id, kind, hold_state, reason, expires_at FROM supply_overrides
            WHERE company_id = ?1 AND device_id = ?2 AND ended_at IS NULL AND expires_at > ?3 ORDER BY created_at
            """)
        overrideQuery.bind(1, companyId)
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
            let holidayQuery = try raw.statement("SELECT day FROM community_holidays WHERE community_id = ?1")
            holidayQuery.bind(1, plan.communityId)
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
        let update = try raw.statement(
            """
            UPDATE supply_states SET desired = ?3, reason = ?4, cutoff_due_at = ?5, reconcile_attempts = 0, updated_at = ?6
            WHERE company_id = ?1 AND device_id = ?2
            """)
        update.bind(1, companyId)
        update.bind(2, plan.deviceId)
        update.bind(3, decision.desired.rawValue)
        update.bind(4, decision.reason)
        update.bind(5, decision.cutoffDueAt)
        update.bind(6, millis)
        try update.run()
        update.reset()
        if decision.reason == "friendly_window", let cutoff = decision.cutoffDueAt, due != cutoff {
            try outbox(
                raw, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                kind: "cutoff_scheduled", audience: "owner", dedupKey: "cutoff_scheduled:\(plan.deviceId):\(cutoff)",
                payload: ["utility": plan.utility, "cutoff_at": String(cutoff), "available": FixedPoint.format(available, scale: 2)],
                now: now)
        }
        guard decision.desired != desired else { return }
        try enqueue(raw, companyId: companyId, plan: plan, action: decision.desired, reason: decision.reason, now: now)
    }

    static func enqueue(_ raw: RawSQLite, companyId: String, plan: PrepaidPlan, action: SupplyPosition, reason: String, now: Date) throws {
        let millis = now.epochMilliseconds
        let newest = try raw.statement(
            """
            SELECT id, action, created_at FROM device_commands WHERE device_id = ?1 AND company_id = ?2 AND state IN ('queued', 'sent', 'delivered')
            ORDER BY created_at DESC, id DESC LIMIT 1
            """)
        newest.bind(1, plan.deviceId)
        newest.bind(2, companyId)
        var open: [CommandLifecycle.Open] = []
        if try newest.step() {
            open.append(.init(id: newest.string(0), action: newest.string(1) == "open" ? .open : .closed, state: .queued, createdAt: newest.int64(2)))
        }
        newest.reset()
        if case .alreadyAsked = CommandLifecycle.desire(action, open: open) { return }
        let transportQuery = try raw.statement("SELECT protocol FROM devices WHERE id = ?1")
        transportQuery.bind(1, plan.deviceId)
        let transport = try transportQuery.step() ? transportQuery.string(0) : "mqtt"
        transportQuery.reset()
        let insert = try raw.statement(
            """
            INSERT INTO device_commands (id, company_id, community_id, device_id, action, reason, state, transport, attempts, max_attempts,
                                         next_attempt_at, expires_at, created_at, wait_for_uplink)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, 0, ?8, ?9, ?10, ?12, ?11)
            """)
        insert.bind(1, Identifier.uuidV7(at: now))
        insert.bind(2, companyId)
        insert.bind(3, plan.communityId)
        insert.bind(4, plan.deviceId)
        insert.bind(5, DeviceCommand.actionText(action))
        insert.bind(6, reason)
        insert.bind(7, transport)
        insert.bind(8, Int64(plan.config.maxAttempts))
        insert.bind(9, millis)
        insert.bind(10, millis + Int64(plan.config.commandExpirySeconds) * 1000)
        insert.bind(11, Int64(plan.config.sleepy ? 1 : 0))
        insert.bind(12, CommandLifecycle.creationTime(now: millis, open: open))
        try insert.run()
        insert.reset()
    }

    static func outbox(
        _ raw: RawSQLite, companyId: String, communityId: String, houseId: String?, deviceId: String?, kind: String,
        audience: String, dedupKey: String, payload: [String: String], now: Date
    ) throws {
        let insert = try raw.statement(
            """
            INSERT INTO notification_outbox (id, company_id, community_id, house_id, device_id, kind, audience, dedup_key, payload, created_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (company_id, dedup_key) DO NOTHING
            """)
        insert.bind(1, Identifier.uuidV7(at: now))
        insert.bind(2, companyId)
        insert.bind(3, communityId)
        insert.bind(4, houseId)
        insert.bind(5, deviceId)
        insert.bind(6, kind)
        insert.bind(7, audience)
        insert.bind(8, dedupKey)
        insert.bind(9, String(decoding: try SnakeCaseJSON.encoder.encode(payload), as: UTF8.self))
        insert.bind(10, now.epochMilliseconds)
        try insert.run()
        insert.reset()
    }
}
