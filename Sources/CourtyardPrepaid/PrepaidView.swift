import CourtyardDevices
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// What an owner (and the front desk) sees of a house's prepaid supplies: balances, today's and this month's usage
/// and deduction, the estimated days left, the supply state and the last commands.
public struct PrepaidOverview: Codable, Sendable {
    /// One paying wallet, in the plan's order.
    public struct Wallet: Codable, Sendable {
        public var purpose: String
        public var houseId: String
        public var accountId: String
        public var balance: Money
        public var available: Money
    }
    /// Usage and what it cost over a span (today, this month).
    public struct Period: Codable, Sendable {
        public var usage: Quantity
        public var deducted: Money
    }
    /// The valve's or switch's desired and reported position, and why.
    public struct Supply: Codable, Sendable {
        public var desired: String
        public var reason: String
        public var reported: String?
        public var reportedAt: Date?
        public var safetyLock: String?
        public var cutoffDueAt: Date?
    }
    /// A recent command and where it stands.
    public struct Command: Codable, Sendable {
        public var id: String
        public var action: String
        public var reason: String
        public var state: String
        public var attempts: Int
        public var createdAt: Date
        public var sentAt: Date?
        public var completedAt: Date?
        public var error: String?
    }
    /// One prepaid plan of the house, as the owner sees it.
    public struct Plan: Codable, Sendable {
        public var planId: String
        public var deviceId: String
        public var register: String
        public var utility: String
        public var wallets: [Wallet]
        /// Usage beyond the wallets, repaid by the next top-up.
        public var owed: Money
        /// Wallets' available money less what is owed.
        public var available: Money
        public var emergencyCredit: Money
        public var today: Period
        public var thisMonth: Period
        /// At the last 7 days' pace; absent without usage.
        public var estimatedDaysLeft: Int?
        public var supply: Supply?
        public var commands: [Command]
    }
    public var houseId: String
    public var plans: [Plan]

    public init(houseId: String, plans: [Plan]) {
        self.houseId = houseId
        self.plans = plans
    }

    static func date(_ millis: Int64?) -> Date? { millis.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) } }

    /// Builds the overview of `house` at `now`.
    public static func load(
        _ db: any SQLDatabase, companyId: String, house: String, engine: Database.Engine, now: Date
    ) async throws -> PrepaidOverview {
        let plans = try await PlanStore(db, companyId: companyId).plans(house: house)
        let supply = SupplyController(db, companyId: companyId, engine: engine)
        var views: [Plan] = []
        for plan in plans {
            let accounts = try await supply.accounts(plan)
            let zone = try await supply.zone(plan.communityId)
            let (day, _) = LocalClock(zone: zone).local(now.epochMilliseconds)
            let today = LocalClock.date(day: day).description
            let weekAgo = LocalClock.date(day: day - 7).description
            func period(_ condition: String, _ value: String) async throws -> Period {
                let row = try await db.raw(
                    """
                    SELECT CAST(COALESCE(SUM(usage_milli), 0) AS BIGINT) AS used, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS charged FROM prepaid_charges
                    WHERE plan_id = \(bind: plan.id) AND \(unsafeRaw: condition) \(bind: value)
                    """
                ).first()
                return Period(
                    usage: Quantity(milliUnits: try row?.decode(column: "used", as: Int64.self) ?? 0),
                    deducted: Money(minorUnits: try row?.decode(column: "charged", as: Int64.self) ?? 0))
            }
            let todayPeriod = try await period("local_day =", today)
            let month = try await period("local_day LIKE", String(today.prefix(7)) + "%")
            let week =
                try await db.raw(
                    """
                    SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS charged FROM prepaid_charges
                    WHERE plan_id = \(bind: plan.id) AND local_day >= \(bind: weekAgo) AND local_day < \(bind: today)
                    """
                ).first()?.decode(column: "charged", as: Int64.self) ?? 0
            let available = SupplyController.available(plan, accounts: accounts)
            let wallets = plan.walletKeys().map { key in
                Wallet(
                    purpose: key.purpose, houseId: key.owner, accountId: key.id, balance: Money(minorUnits: accounts[key.id]?.balance ?? 0),
                    available: Money(minorUnits: accounts[key.id]?.available ?? 0))
            }
            let status = try await supply.status(device: plan.deviceId)
            let commands = try await CommandQueue(db, companyId: companyId).recent(deviceId: plan.deviceId, limit: 5).map { command in
                Command(
                    id: command.id, action: DeviceCommand.actionText(command.action), reason: command.reason, state: command.state.rawValue,
                    attempts: command.attempts, createdAt: date(command.createdAt)!, sentAt: date(command.sentAt),
                    completedAt: date(command.completedAt), error: command.error)
            }
            views.append(
                Plan(
                    planId: plan.id, deviceId: plan.deviceId, register: plan.register, utility: plan.utility, wallets: wallets,
                    owed: Money(minorUnits: accounts[plan.shortfallKey.id]?.balance ?? 0), available: Money(minorUnits: available),
                    emergencyCredit: plan.config.emergencyCredit, today: todayPeriod, thisMonth: month,
                    estimatedDaysLeft: daysLeft(available: available, lastWeek: week),
                    supply: status.map {
                        Supply(
                            desired: $0.desired.rawValue, reason: $0.reason, reported: $0.reported?.rawValue,
                            reportedAt: date($0.reportedAt), safetyLock: $0.safetyLock,
                            cutoffDueAt: date($0.cutoffDueAt))
                    },
                    commands: commands))
        }
        return PrepaidOverview(houseId: house, plans: views)
    }

    /// Whole days the available money lasts at the last 7 days' average daily deduction; 0 when nothing is left.
    public static func daysLeft(available: Int64, lastWeek: Int64) -> Int? {
        guard lastWeek > 0 else { return nil }
        guard available > 0 else { return 0 }
        return Int(Int128(available) * 7 / Int128(lastWeek))
    }
}

/// Slow-moving watches run by the server every few minutes: the "estimated days left" warning, and water leaks
/// seen as night-time flow that never stops (an alert to owner and engineers; never a cut-off).
public enum PrepaidWatch {
    /// Sends the days-left warning for plans that ask for one and have not been warned since their last top-up.
    public static func daysLeft(_ db: any SQLDatabase, engine: Database.Engine, now: Date) async throws -> Int {
        let rows = try await TenantSQL.sweep(
            db, "p.id", from: "prepaid_plans", as: "p",
            joining: [.inner("prepaid_running", as: "r", on: "r.plan_id = p.id")],
            where: "p.status = 'active' AND r.warned = 0")
        var warned = 0
        for owned in rows {
            let r = RowReader(owned.row, table: "prepaid_plans")
            let companyId = owned.companyId
            let store = PlanStore(db, companyId: companyId)
            guard var plan = try await store.plan(id: try r.string("id")), let threshold = plan.config.warnDaysLeft else { continue }
            let supply = SupplyController(db, companyId: companyId, engine: engine)
            let zone = try await supply.zone(plan.communityId)
            let (day, _) = LocalClock(zone: zone).local(now.epochMilliseconds)
            let week =
                try await db.raw(
                    """
                    SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS charged FROM prepaid_charges
                    WHERE plan_id = \(bind: plan.id) AND local_day >= \(bind: LocalClock.date(day: day - 7).description)
                      AND local_day < \(bind: LocalClock.date(day: day).description)
                    """
                ).first()?.decode(column: "charged", as: Int64.self) ?? 0
            let available = SupplyController.available(plan, accounts: try await supply.accounts(plan))
            guard let days = PrepaidOverview.daysLeft(available: available, lastWeek: week), days < threshold else { continue }
            try await Outbox.record(
                db, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                kind: "low_balance", audience: "owner", dedupKey: "days_left:\(plan.id):\(LocalClock.date(day: day))",
                payload: [
                    "utility": plan.utility, "available": FixedPoint.format(available, scale: 2),
                    "estimated_days_left": String(days),
                ], now: now)
            plan.warned = true
            try await store.saveRunningState(plan)
            warned += 1
        }
        return warned
    }

    /// Water plans with leak detection: for each of the last `nights` local nights (01:00–05:00), the smallest hourly
    /// usage; when every night's minimum is above the threshold, owner and engineers are alerted (once per day).
    public static func leaks(_ db: any SQLDatabase, engine: Database.Engine, now: Date) async throws -> Int {
        let rows = try await TenantSQL.sweep(db, "id", from: "prepaid_plans", where: "status = 'active' AND utility = 'water'")
        var alerts = 0
        for owned in rows {
            let r = RowReader(owned.row, table: "prepaid_plans")
            let companyId = owned.companyId
            guard let plan = try await PlanStore(db, companyId: companyId).plan(id: try r.string("id")),
                let rule = plan.config.leakDetection
            else { continue }
            let zone = try await SupplyController(db, companyId: companyId, engine: engine).zone(plan.communityId)
            let clock = LocalClock(zone: zone)
            let (today, _) = clock.local(now.epochMilliseconds)
            var minimums: [Int64] = []
            for back in 0..<rule.nights {
                let night = today - Int64(back)
                let start = clock.instant(day: night, minute: 60)
                let end = clock.instant(day: night, minute: 300)
                guard end <= now.epochMilliseconds else { break }
                let usage = try await db.raw(
                    """
                    SELECT measured_at, usage_milli FROM readings_all
                    WHERE device_id = \(bind: plan.deviceId) AND register = \(bind: plan.register)
                      AND measured_at > \(bind: start) AND measured_at <= \(bind: end) AND usage_milli IS NOT NULL
                    """
                ).all()
                var hours = [Int64](repeating: 0, count: 4)
                var covered = [Bool](repeating: false, count: 4)
                for reading in usage {
                    let rr = RowReader(reading, table: "meter_readings")
                    let hour = Int((try rr.int64("measured_at") - start - 1) / 3_600_000)
                    guard (0..<4).contains(hour) else { continue }
                    hours[hour] += try rr.int64("usage_milli")
                    covered[hour] = true
                }
                // A night without a reading in every hour says nothing about a minimum.
                guard covered.allSatisfy({ $0 }) else { break }
                minimums.append(hours.min()!)
            }
            guard minimums.count == rule.nights, minimums.allSatisfy({ $0 > rule.minimumNightFlow.milliUnits }) else { continue }
            try await Outbox.record(
                db, companyId: companyId, communityId: plan.communityId, houseId: plan.houseId, deviceId: plan.deviceId,
                kind: "water_leak", audience: "owner,staff",
                dedupKey: "water_leak:\(plan.deviceId):\(LocalClock.date(day: today))",
                payload: [
                    "nights": String(rule.nights), "lowest_night_flow": FixedPoint.format(minimums.min()!, scale: 3),
                    "threshold": rule.minimumNightFlow.decimalText, "action": "alert only; supply stays on",
                ], now: now)
            alerts += 1
        }
        return alerts
    }
}
