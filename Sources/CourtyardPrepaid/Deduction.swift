import CourtyardDevices
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// Real-time deduction: each accepted reading of a prepaid meter is rated at its own instant and deducted from the
/// plan's wallets in the ingestion writer's transaction (see ``ReadingEffects``), with transfer ids derived from the
/// reading, so a reading is charged exactly once. Money beyond the wallets is owed on the house's utility receivable
/// (emergency credit, friendly windows, a valve that has not closed yet) and repaid by the next top-up.
public struct PrepaidDeduction: ReadingEffects {
    let wake: @Sendable () async -> Void

    /// - Parameter wake: called after a commit that may have queued commands (the dispatcher's wake-up).
    public init(wake: @escaping @Sendable () async -> Void = {}) {
        self.wake = wake
    }

    public func devices(_ db: any SQLDatabase) async throws -> Set<String> {
        Set(
            try await db.raw("SELECT device_id FROM prepaid_plans WHERE status = 'active'").all().map {
                try RowReader($0, table: "prepaid_plans").string("device_id")
            })
    }

    public func committed() async { await wake() }

    /// One rated charge, before it is written.
    struct Charge {
        var id: String
        var planIndex: Int
        var reading: AcceptedReading
        var kind: String
        var localDay: Int64
        var periodKey: String
        var usage: Int64
        var position: Int64
        var window: String?
        var exact: Int64
        var amount: Int64
        var carryAfter: Int64
        var fromWallets: Int64 = 0
        var toShortfall: Int64 = 0
        var detail: String
    }

    public func apply(_ db: any SQLDatabase, engine: Database.Engine, companyId: String, readings: [AcceptedReading], now: Date) async throws {
        let store = PlanStore(db, companyId: companyId)
        var plans = try await store.plans(devices: Array(Set(readings.map(\.device.id))), lock: true)
        guard !plans.isEmpty else { return }
        var index: [String: Int] = [:]
        for (offset, plan) in plans.enumerated() { index[plan.deviceId + "\u{1}" + plan.register] = offset }
        var ids = IdentifierSequence(at: now)
        var charges: [Charge] = []
        var touched: Set<Int> = []
        for reading in readings {
            guard let planIndex = index[reading.device.id + "\u{1}" + reading.register] else { continue }
            let plan = plans[planIndex]
            let rule = plan.config.ratingRule
            let (day, minute) = LocalClock(zone: reading.device.timeZone).local(reading.measuredAt)
            let key = Rating.periodKey(rule, day: day)
            let window = Rating.window(rule, minute: minute)
            var charge: Charge
            if let old = reading.revisedFrom {
                // A late reading cut this reading's interval: re-rate its new usage at its first position and charge the difference.
                let earlier = try await charged(db, plan: plan.id, reading: reading.readingId, pending: charges)
                guard let first = earlier.first else { continue }
                let quote = try Rating.exact(rule, usage: reading.usage, position: first.position, window: window)
                let exact = Int64(quote.exact.tenMillionths) - earlier.reduce(0) { $0 + $1.exact }
                let (fen, carry) = Rating.deduct(exact: Int128(exact), carry: plans[planIndex].carry, mode: rule.rounding)
                charge = Charge(
                    id: ids.next(), planIndex: planIndex, reading: reading, kind: "revision", localDay: day, periodKey: first.periodKey,
                    usage: reading.usage - old, position: first.position, window: window, exact: exact, amount: fen, carryAfter: carry,
                    detail: "re-rated: a late reading took \(FixedPoint.format(old - reading.usage, scale: 3)) of this interval; "
                        + Self.detail(quote))
                if first.periodKey == plans[planIndex].periodKey { plans[planIndex].periodUsage += reading.usage - old }
            } else {
                let position: Int64
                if let last = plan.lastMeasuredAt, reading.measuredAt < last {
                    position = try await usageBefore(
                        db, plan: plan.id, period: key, before: reading.measuredAt, pending: charges, planIndex: planIndex)
                    if key == plans[planIndex].periodKey { plans[planIndex].periodUsage += reading.usage }
                } else {
                    position = key == plans[planIndex].periodKey ? plans[planIndex].periodUsage : 0
                    plans[planIndex].periodKey = key
                    plans[planIndex].periodUsage = position + reading.usage
                    plans[planIndex].lastMeasuredAt = reading.measuredAt
                }
                charge = try Self.charge(
                    reading, planIndex: planIndex, plan: plans[planIndex], day: day, key: key, window: window,
                    position: position)
            }
            plans[planIndex].carry = charge.carryAfter
            charges.append(charge)
            touched.insert(planIndex)
        }
        guard !charges.isEmpty else { return }

        // The ledger: load every account and transfer id the charges may use, then split each charge over the wallets.
        let ledger = LedgerStore(db, companyId: companyId, engine: engine)
        var state = LedgerState(companyId: companyId)
        let probes = Self.probes(charges, plans: plans)
        // Replays cannot reach here: the reading's own unique key committed in this transaction is the dedup, and the
        // journal's unique transfer id would refuse a second entry anyway; so the ids are not looked up.
        try await ledger.load(probes, into: &state, now: now, checkReplays: false)
        let millis = now.epochMilliseconds
        try Self.split(&charges, plans: plans, state: &state, millis: millis)
        try await ledger.write(state, now: now)
        try await Self.insert(db, companyId: companyId, charges: charges, plans: plans, now: millis)

        // Thresholds and supply, per plan touched. Only a supply still open because of money can change with more usage
        // (closed, deferred, held, exempt or locked ones were decided knowing the balance), so only those are decided again.
        let supply = SupplyController(db, companyId: companyId, engine: engine)
        let exhausted = touched.filter { index in
            SupplyPolicy.isExhausted(
                available: SupplyController.available(plans[index], accounts: state.accounts),
                emergencyCredit: plans[index].config.emergencyCredit.minorUnits)
        }
        var reasons: [String: String] = [:]
        for part in exhausted.map({ plans[$0].deviceId }).chunked(500) {
            for row in try await TenantSQL(db, companyId: companyId, engine: engine)
                .select("device_id, reason", from: "supply_states", where: "device_id IN (\(binds: part))").all()
            {
                let r = RowReader(row, table: "supply_states")
                reasons[try r.string("device_id")] = try r.string("reason")
            }
        }
        var saved: [PrepaidPlan] = []
        for planIndex in touched.sorted() {
            var plan = plans[planIndex]
            let available = SupplyController.available(plan, accounts: state.accounts)
            if !plan.warned, let warn = plan.config.warnBelow, available <= warn.minorUnits {
                try await Outbox.record(
                    db, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                    kind: "low_balance", audience: "owner", dedupKey: "low_balance:\(plan.id):\(millis)",
                    payload: [
                        "utility": plan.utility, "available": FixedPoint.format(available, scale: 2),
                        "threshold": warn.decimalText,
                    ], now: now)
                plan.warned = true
                plans[planIndex] = plan
            }
            saved.append(plan)
            let refunded = charges.contains { $0.planIndex == planIndex && $0.amount < 0 }
            if (exhausted.contains(planIndex) && reasons[plan.deviceId] == "balance") || refunded {
                let zone = readings.first { $0.device.id == plan.deviceId }?.device.timeZone ?? .gmt
                try await supply.evaluate(plan, available: available, zone: zone, now: now)
            }
        }
        try await store.saveRunningStates(saved)
    }

    /// The charge for a new (not revised) reading at tier position `position`.
    static func charge(
        _ reading: AcceptedReading, planIndex: Int, plan: PrepaidPlan, day: Int64, key: String, window: String?,
        position: Int64
    ) throws -> Charge {
        let rule = plan.config.ratingRule
        let quote = try Rating.exact(rule, usage: reading.usage, position: position, window: window)
        let exact = Int64(quote.exact.tenMillionths)
        let (fen, carry) = Rating.deduct(exact: Int128(exact), carry: plan.carry, mode: rule.rounding)
        return Charge(
            id: reading.readingId, planIndex: planIndex, reading: reading, kind: "reading", localDay: day, periodKey: key,
            usage: reading.usage, position: position, window: window, exact: exact, amount: fen, carryAfter: carry,
            detail: detail(quote))
    }

    /// Every account and transfer id the charges may use, as operations for the ledger store to load.
    ///
    /// - Parameter shortfall: the plans whose utility receivable to load too (nil: every plan's).
    static func probes(_ charges: [Charge], plans: [PrepaidPlan], shortfall: Set<Int>? = nil) -> [LedgerOperation] {
        var probes: [LedgerOperation] = []
        var seen: Set<Int> = []
        for charge in charges where seen.insert(charge.planIndex).inserted {
            let plan = plans[charge.planIndex]
            for (offset, wallet) in plan.walletKeys().enumerated() {
                probes.append(
                    .transfer(
                        Transfer(
                            id: transferId(charge.id, "w\(offset)"), debit: wallet, credit: plan.revenueKey, amount: 1,
                            code: .deduction, actor: actor)))
            }
            if shortfall?.contains(charge.planIndex) ?? true {
                probes.append(
                    .transfer(
                        Transfer(
                            id: transferId(charge.id, "s"), debit: plan.shortfallKey, credit: plan.revenueKey, amount: 1,
                            code: .deduction, actor: actor)))
            }
        }
        return probes
    }

    /// Splits each charge over the plan's wallets in order (what they cannot pay is owed on the utility receivable), and
    /// applies the transfers to `state` with the ledger's rules.
    ///
    /// - Parameter shortfallLoaded: the plans whose utility receivable was loaded (nil: all); a plan outside it that owes
    ///   throws ``NeedsCarefulPath`` (an account not loaded would look new and empty).
    static func split(
        _ charges: inout [Charge], plans: [PrepaidPlan], state: inout LedgerState, millis: Int64,
        shortfallLoaded: Set<Int>? = nil
    ) throws {
        for offset in charges.indices {
            let plan = plans[charges[offset].planIndex]
            let charge = charges[offset]
            let reference = "reading:" + charge.reading.readingId
            var operations: [LedgerOperation] = []
            if charge.amount > 0 {
                var remaining = charge.amount
                for (walletIndex, wallet) in plan.walletKeys().enumerated() where remaining > 0 {
                    let take = min(remaining, max(0, state.accounts[wallet.id]?.available ?? 0))
                    guard take > 0 else { continue }
                    operations.append(
                        .transfer(
                            Transfer(
                                id: transferId(charge.id, "w\(walletIndex)"), debit: wallet, credit: plan.revenueKey,
                                amount: take, code: .deduction, reference: reference, actor: actor)))
                    remaining -= take
                    charges[offset].fromWallets += take
                }
                if remaining > 0 {
                    if let loaded = shortfallLoaded, !loaded.contains(charge.planIndex) { throw NeedsCarefulPath() }
                    operations.append(
                        .transfer(
                            Transfer(
                                id: transferId(charge.id, "s"), debit: plan.shortfallKey, credit: plan.revenueKey,
                                amount: remaining, code: .deduction, reference: reference, actor: actor)))
                    charges[offset].toShortfall = remaining
                }
            } else if charge.amount < 0 {
                // Given back to the first wallet (the shortfall, if any, is settled by the next top-up as before).
                operations.append(
                    .transfer(
                        Transfer(
                            id: transferId(charge.id, "w0"), debit: plan.revenueKey, credit: plan.walletKeys()[0],
                            amount: -charge.amount, code: .adjustment, reference: reference, actor: actor)))
                charges[offset].fromWallets = charge.amount
            }
            if operations.count == 1 {
                if case .failure(let error) = state.apply(operations[0], at: millis) { throw error }
            } else if !operations.isEmpty, case .failure(let error) = state.apply(linked: operations, at: millis) {
                throw error
            }
        }
    }

    /// Thrown inside the raw path when a batch needs what only the SQLKit path reads.
    struct NeedsCarefulPath: Error {}

    static let actor = "system:prepaid"

    static func transferId(_ charge: String, _ leg: String) -> String { "pp:" + charge + ":" + leg }

    static func detail(_ quote: Quote) -> String {
        quote.lines.map(\.description).joined(separator: "; ")
    }

    /// Usage rated in `period` before `before` (a late reading's tier position), including this batch's charges.
    func usageBefore(_ db: any SQLDatabase, plan: String, period: String, before: Int64, pending: [Charge], planIndex: Int) async throws -> Int64 {
        let stored =
            try await db.raw(
                """
                SELECT CAST(COALESCE(SUM(usage_milli), 0) AS BIGINT) AS used FROM prepaid_charges
                WHERE plan_id = \(bind: plan) AND period_key = \(bind: period) AND measured_at < \(bind: before)
                """
            ).first()?.decode(column: "used", as: Int64.self) ?? 0
        return stored
            + pending.filter { $0.planIndex == planIndex && $0.periodKey == period && $0.reading.measuredAt < before }
            .reduce(0) { $0 + $1.usage }
    }

    /// Charges already made for a reading (its first rating, then revisions), oldest first.
    func charged(
        _ db: any SQLDatabase, plan: String, reading: String, pending: [Charge]
    ) async throws
        -> [(position: Int64, periodKey: String, exact: Int64)]
    {
        var result = try await db.raw(
            """
            SELECT position_milli, period_key, exact FROM prepaid_charges WHERE plan_id = \(bind: plan) AND reading_id = \(bind: reading)
            ORDER BY created_at, id
            """
        ).all().map { row in
            let r = RowReader(row, table: "prepaid_charges")
            return (position: try r.int64("position_milli"), periodKey: try r.string("period_key"), exact: try r.int64("exact"))
        }
        for charge in pending where charge.reading.readingId == reading {
            result.append((charge.position, charge.periodKey, charge.exact))
        }
        return result
    }

    static func insert(_ db: any SQLDatabase, companyId: String, charges: [Charge], plans: [PrepaidPlan], now: Int64) async throws {
        for part in charges.chunked(300) {
            let rows = part.map { charge -> [any Encodable & Sendable] in
                let plan = plans[charge.planIndex]
                return [
                    charge.id, plan.communityId, plan.id, charge.reading.readingId, charge.kind, charge.reading.measuredAt,
                    LocalClock.date(day: charge.localDay).description, charge.periodKey, charge.usage, charge.position, charge.window,
                    charge.exact, charge.amount, plan.config.ratingRule.rounding.rawValue, charge.carryAfter, charge.fromWallets,
                    charge.toShortfall, charge.detail, now,
                ]
            }
            try await TenantSQL(db, scope: TenantScope(companyId: companyId)).insert(
                into: "prepaid_charges",
                columns: [
                    "id", "community_id", "plan_id", "reading_id", "kind", "measured_at", "local_day", "period_key", "usage_milli", "position_milli",
                    "time_window", "exact", "amount", "rounding", "carry_after", "from_wallets", "to_shortfall", "detail", "created_at",
                ], rows: rows
            ).run()
        }
    }
}
