import CourtyardDomain
import CourtyardIngest
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

    public init(id: String, companyId: String, communityId: String, houseId: String, deviceId: String, register: String, utility: String,
                config: PlanConfig, status: String, createdBy: String, createdAt: Int64, updatedAt: Int64, periodKey: String?,
                periodUsage: Int64, carry: Int64, lastMeasuredAt: Int64?, warned: Bool) {
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
            Keys(wallets: config.wallets.map { AccountKey.wallet(communityId, house: $0.houseId ?? houseId, purpose: $0.purpose) },
                 shortfall: AccountKey(communityId: communityId, kind: .receivable, owner: houseId, purpose: utility),
                 revenue: AccountKey.community(communityId, .revenue, purpose: utility))
        }
    }

    /// The accounts the plan pays from, in order.
    public func walletKeys() -> [AccountKey] { keys.wallets }
    /// Usage owed beyond the wallets (emergency credit, friendly windows), repaid by the next top-up.
    public var shortfallKey: AccountKey { keys.shortfall }
    public var revenueKey: AccountKey { keys.revenue }

    static let columns = "id, company_id, community_id, house_id, device_id, register, utility, config, status, created_by, created_at, updated_at"
    /// A plan with its running state: `SELECT \(select) WHERE p.…`.
    static let selectColumns = "p.id, p.company_id, p.community_id, p.house_id, p.device_id, p.register, p.utility, p.config, p.status, p.created_by, p.created_at, p.updated_at, r.period_key, r.period_usage_milli, r.carry_exact, r.last_measured_at, r.warned"
    static let select = selectColumns + " FROM prepaid_plans p JOIN prepaid_running r ON r.plan_id = p.id"
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
        let config = try PrepaidJSON.decoder.decode(PlanConfig.self, from: Data(text.utf8))
        entries.withLock { entries in
            if entries.count > 500_000 { entries.removeAll() }
            entries[id] = (updatedAt, config)
        }
        return config
    }
}

/// The API's JSON conventions (snake_case keys, ISO dates) for stored configuration.
public enum PrepaidJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
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
    public let db: any SQLDatabase
    public let companyId: String

    public init(_ db: any SQLDatabase, companyId: String) {
        self.db = db
        self.companyId = companyId
    }

    static func plan(_ row: any SQLRow) throws -> PrepaidPlan {
        let r = RowReader(row, table: "prepaid_plans")
        let id = try r.string("id")
        let updatedAt = try r.int64("updated_at")
        let config: PlanConfig
        do { config = try PlanConfigCache.shared.config(id: id, updatedAt: updatedAt, text: try r.string("config")) } catch {
            throw StorageError.corruptRow(table: "prepaid_plans", column: "config")
        }
        return PrepaidPlan(id: id, companyId: try r.string("company_id"), communityId: try r.string("community_id"),
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
    public func create(houseId: String, deviceId: String, register: String, config: PlanConfig, scope: TenantScope, actor: String,
                       now: Date) async throws -> PrepaidPlan {
        guard let house = try await db.raw("""
            SELECT community_id FROM houses WHERE company_id = \(bind: companyId) AND id = \(bind: houseId)
            """).first().map({ try RowReader($0, table: "houses").string("community_id") }), scope.includes(communityId: house) else {
            throw PrepaidError(.invalid, code: "unknown_house", field: "house_id", "no house \(houseId)")
        }
        guard let deviceRow = try await db.raw("""
            SELECT community_id, kind, status FROM devices WHERE company_id = \(bind: companyId) AND id = \(bind: deviceId)
            """).first() else {
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
            let row = try await db.raw("""
                SELECT community_id FROM houses WHERE company_id = \(bind: companyId) AND id = \(bind: other)
                """).first()
            guard let row, try RowReader(row, table: "houses").string("community_id") == house else {
                throw PrepaidError(.invalid, code: "unknown_wallet", field: "wallets[\(index)].house_id",
                                   "no house \(other) in this community to pay from")
            }
        }
        if let integration = config.commandIntegration, try await db.raw("""
            SELECT id FROM integrations WHERE company_id = \(bind: companyId) AND id = \(bind: integration)
            """).first() == nil {
            throw PrepaidError(.invalid, code: "unknown_integration", field: "command_integration", "no integration \(integration)")
        }
        if try await db.raw("""
            SELECT id FROM prepaid_plans WHERE company_id = \(bind: companyId) AND device_id = \(bind: deviceId)
              AND register = \(bind: register) AND status = 'active'
            """).first() != nil {
            throw PrepaidError(.conflict, code: "plan_exists", field: "device_id", "this meter register already has an active plan; end it first")
        }
        let millis = now.epochMilliseconds
        let plan = PrepaidPlan(id: Identifier.uuidV7(at: now), companyId: companyId, communityId: house, houseId: houseId,
                               deviceId: deviceId, register: register, utility: utility, config: config, status: "active",
                               createdBy: actor, createdAt: millis, updatedAt: millis, periodKey: nil, periodUsage: 0, carry: 0,
                               lastMeasuredAt: nil, warned: false)
        let text = String(decoding: try PrepaidJSON.encoder.encode(config), as: UTF8.self)
        try await db.raw("""
            INSERT INTO prepaid_plans (\(unsafeRaw: PrepaidPlan.columns))
            VALUES (\(bind: plan.id), \(bind: companyId), \(bind: house), \(bind: houseId), \(bind: deviceId), \(bind: register),
                    \(bind: utility), \(bind: text), 'active', \(bind: actor), \(bind: millis), \(bind: millis))
            """).run()
        try await saveRunningStates([plan])
        try await db.raw("""
            INSERT INTO supply_states (device_id, company_id, community_id, plan_id, desired, reason, callback_integration_id, updated_at)
            VALUES (\(bind: deviceId), \(bind: companyId), \(bind: house), \(bind: plan.id), 'open', 'balance', \(bind: config.commandIntegration),
                    \(bind: millis))
            ON CONFLICT (device_id) DO UPDATE SET plan_id = excluded.plan_id, callback_integration_id = excluded.callback_integration_id,
                updated_at = excluded.updated_at
            """).run()
        for payer in Set([houseId] + config.wallets.compactMap(\.houseId)).sorted() {
            try await db.raw("""
                INSERT INTO prepaid_plan_payers (plan_id, house_id, company_id) VALUES (\(bind: plan.id), \(bind: payer), \(bind: companyId))
                """).run()
        }
        // The ingestion writer must learn that this meter's readings now carry a deduction.
        try await IngestGeneration.bump(db)
        return plan
    }

    /// One plan of this company (and scope).
    public func plan(id: String, scope: TenantScope? = nil, lock: Bool = false, engine: Database.Engine = .sqlite) async throws -> PrepaidPlan? {
        let suffix = lock && engine == .postgres ? " FOR UPDATE" : ""
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: PrepaidPlan.select) WHERE p.company_id = \(bind: companyId) AND p.id = \(bind: id)\(unsafeRaw: suffix)
            """).first() else { return nil }
        let plan = try Self.plan(row)
        if let scope, !scope.includes(communityId: plan.communityId) { return nil }
        return plan
    }

    /// Active plans of a house (locked on PostgreSQL when `lock`), in id order.
    public func plans(house: String, lock: Bool = false, engine: Database.Engine = .sqlite) async throws -> [PrepaidPlan] {
        let suffix = lock && engine == .postgres ? " FOR UPDATE" : ""
        return try await db.raw("""
            SELECT \(unsafeRaw: PrepaidPlan.select)
            WHERE p.company_id = \(bind: companyId) AND p.house_id = \(bind: house) AND p.status = 'active' ORDER BY p.id\(unsafeRaw: suffix)
            """).all().map(Self.plan)
    }

    /// Active plans paid from a wallet of `house` (their own, or another house's plan paying from it), in id order.
    public func plansPaying(from house: String, community: String, lock: Bool = false, engine: Database.Engine = .sqlite) async throws -> [PrepaidPlan] {
        let suffix = lock && engine == .postgres ? " FOR UPDATE OF p, r" : ""
        // Driven from the payer rows of the house (CROSS JOIN fixes SQLite's join order): an `IN (subquery)` filter let
        // SQLite walk every plan of the company through the (company, house) index, 1 ms per top-up at 4,000 plans.
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: PrepaidPlan.selectColumns)
            FROM prepaid_plan_payers pp CROSS JOIN prepaid_plans p CROSS JOIN prepaid_running r
            WHERE pp.house_id = \(bind: house) AND pp.company_id = \(bind: companyId) AND p.id = pp.plan_id AND r.plan_id = p.id
              AND p.company_id = \(bind: companyId) AND p.community_id = \(bind: community) AND p.status = 'active'
            ORDER BY p.id\(unsafeRaw: suffix)
            """).all()
        return try rows.map(Self.plan).filter { plan in plan.houseId == house || plan.config.wallets.contains { $0.houseId == house } }
    }

    /// Active plans of these devices, by device id.
    public func plans(devices: [String], lock: Bool, engine: Database.Engine) async throws -> [PrepaidPlan] {
        var plans: [PrepaidPlan] = []
        let suffix = lock && engine == .postgres ? " FOR UPDATE" : ""
        for part in devices.sorted().chunked(500) {
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: PrepaidPlan.select)
                WHERE p.company_id = \(bind: companyId) AND p.status = 'active' AND p.device_id IN (\(binds: part)) ORDER BY p.id\(unsafeRaw: suffix)
                """).all()
            plans.append(contentsOf: try rows.map(Self.plan))
        }
        return plans
    }

    /// Ends a plan: its meter's readings are no longer deducted (history stays).
    public func end(id: String, now: Date) async throws {
        try await db.raw("""
            UPDATE prepaid_plans SET status = 'ended', updated_at = \(bind: now.epochMilliseconds)
            WHERE company_id = \(bind: companyId) AND id = \(bind: id)
            """).run()
        try await IngestGeneration.bump(db)
    }

    /// Saves the running rating state of many plans in multi-row upserts.
    func saveRunningStates(_ plans: [PrepaidPlan]) async throws {
        for part in plans.chunked(500) {
            let insert = db.insert(into: "prepaid_running")
                .columns("plan_id", "company_id", "period_key", "period_usage_milli", "carry_exact", "last_measured_at", "warned")
            for plan in part {
                insert.values(SQLBind(plan.id), SQLBind(companyId), SQLBind(plan.periodKey), SQLBind(plan.periodUsage), SQLBind(plan.carry),
                              SQLBind(plan.lastMeasuredAt), SQLBind(Int64(plan.warned ? 1 : 0)))
            }
            try await insert.onConflict(with: ["plan_id"]) { update in
                update.set(excludedValueOf: "period_key").set(excludedValueOf: "period_usage_milli").set(excludedValueOf: "carry_exact")
                    .set(excludedValueOf: "last_measured_at").set(excludedValueOf: "warned")
            }.run()
        }
    }

    /// Saves the running rating state.
    func saveRunningState(_ plan: PrepaidPlan) async throws {
        try await saveRunningStates([plan])
    }
}
