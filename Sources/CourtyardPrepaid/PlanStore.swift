import CourtyardDevices
import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit
import Synchronization

/// A prepaid plan: one meter register of one house, paid from wallets, rated by a tariff, with its running state.
public struct PrepaidPlan: Encodable, Sendable, Hashable {
    public var id: String
    public var companyId: String
    public var communityId: String
    public var houseId: String
    public var deviceId: String
    public var register: String
    /// `electricity`, `water`, `gas` or `heating`: also the revenue and shortfall account purpose.
    public var utility: String
    public var config: PlanConfig
    /// `active` or `ended`.
    public var status: String
    public var createdBy: String
    public var createdAt: Int64
    public var updatedAt: Int64
    /// Running state: the accumulation period rated last, usage in it so far, the sub-fen remainder not yet deducted.
    public var periodKey: String?
    public var periodUsage: Int64
    public var carry: Int64
    public var lastMeasuredAt: Int64?
    /// Whether the low-balance warning was sent since the balance last rose above the threshold.
    public var warned: Bool

    public init(
        id: String, companyId: String, communityId: String, houseId: String, deviceId: String, register: String, utility: String,
        config: PlanConfig, status: String, createdBy: String, createdAt: Int64, updatedAt: Int64, periodKey: String?,
        periodUsage: Int64, carry: Int64, lastMeasuredAt: Int64?, warned: Bool
    ) {
        self.id = id; self.companyId = companyId; self.communityId = communityId; self.houseId = houseId; self.deviceId = deviceId
        self.register = register; self.utility = utility; self.config = config; self.status = status; self.createdBy = createdBy
        self.createdAt = createdAt; self.updatedAt = updatedAt; self.periodKey = periodKey; self.periodUsage = periodUsage
        self.carry = carry; self.lastMeasuredAt = lastMeasuredAt; self.warned = warned
    }

    /// The API form: instants as RFC 3339 like every other answer (they were epoch milliseconds here). The running
    /// state is internal and not sent.
    enum CodingKeys: String, CodingKey {
        case id, companyId, communityId, houseId, deviceId, register, utility, config, status, createdBy, createdAt, updatedAt
        case periodKey, periodUsage, lastMeasuredAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(companyId, forKey: .companyId); try c.encode(communityId, forKey: .communityId)
        try c.encode(houseId, forKey: .houseId); try c.encode(deviceId, forKey: .deviceId); try c.encode(register, forKey: .register)
        try c.encode(utility, forKey: .utility); try c.encode(config, forKey: .config); try c.encode(status, forKey: .status)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(Date(epochMilliseconds: createdAt), forKey: .createdAt)
        try c.encode(Date(epochMilliseconds: updatedAt), forKey: .updatedAt)
        try c.encodeIfPresent(periodKey, forKey: .periodKey)
        try c.encode(FixedPoint.format(periodUsage, scale: 3), forKey: .periodUsage)
        try c.encodeIfPresent(lastMeasuredAt.map(Date.init(epochMilliseconds:)), forKey: .lastMeasuredAt)
    }

    /// The plan's ledger accounts, derived once per plan version (an account id is a SHA-256 of its key: the deduction
    /// path must not hash per reading).
    struct Keys: Sendable {
        var wallets: [AccountKey]
        var shortfall: AccountKey
        var revenue: AccountKey
    }

    var keys: Keys {
        PlanConfigCache.shared.keys(id: id, updatedAt: updatedAt) {
            Keys(
                wallets: config.wallets.map { AccountKey.wallet(communityId, house: $0.houseId ?? houseId, purpose: $0.purpose) },
                shortfall: AccountKey(communityId: communityId, kind: .receivable, owner: houseId, purpose: utility),
                revenue: AccountKey.community(communityId, .revenue, purpose: utility))
        }
    }

    /// The accounts the plan pays from, in order.
    public func walletKeys() -> [AccountKey] { keys.wallets }
    /// Usage owed beyond the wallets (emergency credit, friendly windows), repaid by the next top-up.
    public var shortfallKey: AccountKey { keys.shortfall }
    public var revenueKey: AccountKey { keys.revenue }

    /// A plan with its running state, from `prepaid_plans p` joined with `prepaid_running r` (the company is the store's).
    static let selectColumns: SQLQueryString = """
        p.id, p.community_id, p.house_id, p.device_id, p.register, p.utility, p.config, p.status, p.created_by, p.created_at, p.updated_at, \
        r.period_key, r.period_usage_milli, r.carry_exact, r.last_measured_at, r.warned
        """
    static let running: [TenantSQL.Join] = [.inner("prepaid_running", as: "r", on: "r.plan_id = p.id")]
}

/// Decoded plan configurations by plan id and version: the deduction path must not parse JSON per reading.
final class PlanConfigCache: Sendable {
    static let shared = PlanConfigCache()
    private let entries = Mutex<[String: (Int64, PlanConfig)]>([:])
    private let accountKeys = Mutex<[String: (Int64, PrepaidPlan.Keys)]>([:])

    func keys(id: String, updatedAt: Int64, make: () -> PrepaidPlan.Keys) -> PrepaidPlan.Keys {
        if let hit = accountKeys.withLock({ $0[id] }), hit.0 == updatedAt { return hit.1 }
        let keys = make()
        accountKeys.withLock { entries in
            if entries.count > 500_000 { entries.removeAll() }
            entries[id] = (updatedAt, keys)
        }
        return keys
    }

    func config(id: String, updatedAt: Int64, text: String) throws -> PlanConfig {
        if let hit = entries.withLock({ $0[id] }), hit.0 == updatedAt { return hit.1 }
        let config = try SnakeCaseJSON.decoder.decode(PlanConfig.self, from: Data(text.utf8))
        entries.withLock { entries in
            if entries.count > 500_000 { entries.removeAll() }
            entries[id] = (updatedAt, config)
        }
        return config
    }
}

/// Why a plan, top-up, override or acknowledgement was refused: a stable code and the field at fault.
public struct PrepaidError: Error, Hashable, Sendable {
    /// Which answer the API gives: 422, 404 or 409.
    public enum Kind: Sendable, Hashable { case invalid, notFound, conflict }
    public var kind: Kind
    public var code: String
    public var field: String?
    public var message: String
    /// Every problem, for a plan with several.
    public var issues: [PlanConfig.Issue]

    public init(_ kind: Kind, code: String, field: String?, _ message: String, issues: [PlanConfig.Issue] = []) {
        self.kind = kind
        self.code = code
        self.field = field
        self.message = message
        self.issues = issues
    }
}

/// Plans of one company: create, read, end. Every statement names the company.
public struct PlanStore: Sendable {
    public let tenant: TenantSQL

    public init(_ db: any SQLDatabase, companyId: String) {
        tenant = TenantSQL(db, scope: TenantScope(companyId: companyId))
    }

    public var db: any SQLDatabase { tenant.db }
    public var companyId: String { tenant.companyId }

    func plan(_ row: any SQLRow) throws -> PrepaidPlan {
        let r = RowReader(row, table: "prepaid_plans")
        let id = try r.string("id")
        let updatedAt = try r.int64("updated_at")
        let config: PlanConfig
        do { config = try PlanConfigCache.shared.config(id: id, updatedAt: updatedAt, text: try r.string("config")) } catch {
            throw StorageError.corruptRow(table: "prepaid_plans", column: "config")
        }
        return PrepaidPlan(
            id: id, companyId: companyId, communityId: try r.string("community_id"),
            houseId: try r.string("house_id"), deviceId: try r.string("device_id"), register: try r.string("register"),
            utility: try r.string("utility"), config: config, status: try r.string("status"),
            createdBy: try r.string("created_by"), createdAt: try r.int64("created_at"), updatedAt: updatedAt,
            periodKey: try r.optionalString("period_key"), periodUsage: try r.int64("period_usage_milli"),
            carry: try r.int64("carry_exact"), lastMeasuredAt: try r.optionalInt64("last_measured_at"),
            warned: try r.int64("warned") != 0)
    }

    /// The utility a meter kind supplies.
    public static func utility(of kind: Device.Kind) -> String? {
        switch kind {
        case .electricityMeter: "electricity"
        case .waterMeter: "water"
        case .gasMeter: "gas"
        case .heatMeter: "heating"
        default: nil
        }
    }

    /// Creates a plan after checking everything it names belongs to this company and community.
    public func create(
        houseId: String, deviceId: String, register: String, config: PlanConfig, scope: TenantScope, actor: String,
        now: Date
    ) async throws -> PrepaidPlan {
        guard
            let house = try await tenant.select("community_id", from: "houses", where: "id = \(bind: houseId)").first().map({
                try RowReader($0, table: "houses").string("community_id")
            }), scope.includes(communityId: house)
        else {
            throw PrepaidError(.invalid, code: "unknown_house", field: "house_id", "no house \(houseId)")
        }
        guard let deviceRow = try await tenant.select("community_id, kind, status", from: "devices", where: "id = \(bind: deviceId)").first() else {
            throw PrepaidError(.invalid, code: "unknown_device", field: "device_id", "no device \(deviceId)")
        }
        let d = RowReader(deviceRow, table: "devices")
        guard try d.string("community_id") == house else {
            throw PrepaidError(.invalid, code: "community_mismatch", field: "device_id", "the meter is in another community than the house")
        }
        guard let kind = Device.Kind(rawValue: try d.string("kind")), let utility = Self.utility(of: kind) else {
            throw PrepaidError(.invalid, code: "not_a_meter", field: "device_id", "a prepaid plan needs a water, electricity, gas or heat meter")
        }
        guard try d.string("status") != "retired" else {
            throw PrepaidError(.invalid, code: "device_retired", field: "device_id", "the meter is retired")
        }
        guard !register.isEmpty, register.utf8.count <= 64 else {
            throw PrepaidError(.invalid, code: "invalid_value", field: "register", "register is 1 to 64 characters")
        }
        let issues = config.validate(utility: utility)
        if let first = issues.first {
            throw PrepaidError(.invalid, code: first.code, field: first.field, first.message, issues: issues)
        }
        // Wallets of another house must be in this company and community: the ledger never moves money across communities.
        for (index, wallet) in config.wallets.enumerated() {
            guard let other = wallet.houseId, other != houseId else { continue }
            let row = try await tenant.select("community_id", from: "houses", where: "id = \(bind: other)").first()
            guard let row, try RowReader(row, table: "houses").string("community_id") == house else {
                throw PrepaidError(
                    .invalid, code: "unknown_wallet", field: "wallets[\(index)].house_id",
                    "no house \(other) in this community to pay from")
            }
        }
        if let integration = config.commandIntegration,
            try await tenant.select("id", from: "integrations", where: "id = \(bind: integration)").first() == nil
        {
            throw PrepaidError(.invalid, code: "unknown_integration", field: "command_integration", "no integration \(integration)")
        }
        if try await tenant.select(
            "id", from: "prepaid_plans",
            where: "device_id = \(bind: deviceId) AND register = \(bind: register) AND status = 'active'"
        ).first() != nil {
            throw PrepaidError(.conflict, code: "plan_exists", field: "device_id", "this meter register already has an active plan; end it first")
        }
        let millis = now.epochMilliseconds
        let plan = PrepaidPlan(
            id: Identifier.uuidV7(at: now), companyId: companyId, communityId: house, houseId: houseId,
            deviceId: deviceId, register: register, utility: utility, config: config, status: "active",
            createdBy: actor, createdAt: millis, updatedAt: millis, periodKey: nil, periodUsage: 0, carry: 0,
            lastMeasuredAt: nil, warned: false)
        let text = String(decoding: try SnakeCaseJSON.encoder.encode(config), as: UTF8.self)
        try await tenant.insert(
            into: "prepaid_plans",
            columns: [
                "id", "community_id", "house_id", "device_id", "register", "utility", "config", "status", "created_by", "created_at", "updated_at",
            ], values: [plan.id, house, houseId, deviceId, register, utility, text, "active", actor, millis, millis]
        ).run()
        try await saveRunningStates([plan])
        try await tenant.insert(
            into: "supply_states", columns: ["device_id", "community_id", "plan_id", "desired", "reason", "callback_integration_id", "updated_at"],
            values: [deviceId, house, plan.id, "open", "balance", config.commandIntegration, millis],
            onConflict: .onKey(
                ["device_id"],
                doUpdate: """
                    plan_id = excluded.plan_id, callback_integration_id = excluded.callback_integration_id, updated_at = excluded.updated_at
                    """)
        ).run()
        for payer in Set([houseId] + config.wallets.compactMap(\.houseId)).sorted() {
            try await tenant.insert(into: "prepaid_plan_payers", columns: ["plan_id", "house_id"], values: [plan.id, payer]).run()
        }
        // The ingestion writer must learn that this meter's readings now carry a deduction.
        try await IngestGeneration.bump(db)
        return plan
    }

    /// One plan of this company (and scope).
    public func plan(id: String, scope: TenantScope? = nil, lock: Bool = false) async throws -> PrepaidPlan? {
        guard
            let row = try await tenant.select(
                PrepaidPlan.selectColumns, from: "prepaid_plans", as: "p", joining: PrepaidPlan.running,
                where: "p.id = \(bind: id)", lock: lock ? .forUpdate : .none
            ).first()
        else { return nil }
        let plan = try self.plan(row)
        if let scope, !scope.includes(communityId: plan.communityId) { return nil }
        return plan
    }

    /// Active plans of a house (locked on PostgreSQL when `lock`), in id order.
    public func plans(house: String, lock: Bool = false) async throws -> [PrepaidPlan] {
        try await tenant.select(
            PrepaidPlan.selectColumns, from: "prepaid_plans", as: "p", joining: PrepaidPlan.running,
            where: "p.house_id = \(bind: house) AND p.status = 'active'", then: "ORDER BY p.id", lock: lock ? .forUpdate : .none
        )
        .all().map(plan)
    }

    /// Active plans paid from a wallet of `house` (their own, or another house's plan paying from it), in id order.
    public func plansPaying(from house: String, community: String, lock: Bool = false) async throws -> [PrepaidPlan] {
        // Driven from the payer rows of the house (ordered joins fix SQLite's join order): an `IN (subquery)` filter let
        // SQLite walk every plan of the company through the (company, house) index, 1 ms per top-up at 4,000 plans.
        let rows = try await tenant.select(
            PrepaidPlan.selectColumns, from: "prepaid_plan_payers", as: "pp",
            joining: [.ordered("prepaid_plans", as: "p", on: "p.id = pp.plan_id"), .ordered("prepaid_running", as: "r", on: "r.plan_id = p.id")],
            where: "pp.house_id = \(bind: house) AND p.community_id = \(bind: community) AND p.status = 'active'",
            then: "ORDER BY p.id", lock: lock ? .forUpdateOf(["p", "r"]) : .none
        ).all()
        return try rows.map(plan).filter { plan in plan.houseId == house || plan.config.wallets.contains { $0.houseId == house } }
    }

    /// Active plans of these devices, by device id.
    public func plans(devices: [String], lock: Bool) async throws -> [PrepaidPlan] {
        var plans: [PrepaidPlan] = []
        for part in devices.sorted().chunked(500) {
            let rows = try await tenant.select(
                PrepaidPlan.selectColumns, from: "prepaid_plans", as: "p", joining: PrepaidPlan.running,
                where: "p.status = 'active' AND p.device_id IN (\(binds: part))", then: "ORDER BY p.id",
                lock: lock ? .forUpdate : .none
            ).all()
            plans.append(contentsOf: try rows.map(plan))
        }
        return plans
    }

    /// Ends a plan: its meter's readings are no longer deducted (history stays).
    public func end(id: String, now: Date) async throws {
        try await tenant.update("prepaid_plans", set: "status = 'ended', updated_at = \(bind: now.epochMilliseconds)", where: "id = \(bind: id)")
            .run()
        try await IngestGeneration.bump(db)
    }

    /// Saves the running rating state of many plans in multi-row upserts.
    func saveRunningStates(_ plans: [PrepaidPlan]) async throws {
        for part in plans.chunked(500) {
            try await tenant.insert(
                into: "prepaid_running", columns: ["plan_id", "period_key", "period_usage_milli", "carry_exact", "last_measured_at", "warned"],
                rows: part.map { [$0.id, $0.periodKey, $0.periodUsage, $0.carry, $0.lastMeasuredAt, Int64($0.warned ? 1 : 0)] },
                onConflict: .onKey(
                    ["plan_id"],
                    doUpdate: """
                        period_key = excluded.period_key, period_usage_milli = excluded.period_usage_milli, carry_exact = excluded.carry_exact,
                        last_measured_at = excluded.last_measured_at, warned = excluded.warned
                        """)
            ).run()
        }
    }

    /// Saves the running rating state.
    func saveRunningState(_ plan: PrepaidPlan) async throws {
        try await saveRunningStates([plan])
    }
}
