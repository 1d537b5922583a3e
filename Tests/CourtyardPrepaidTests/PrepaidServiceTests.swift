import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardPrepaid
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

/// Prepaid's services on a real database and nothing else: plans (`PlanStore`), top-ups (`TopUp`), the deduction that
/// commits with each reading (`PrepaidDeduction`, through the ingestion writer) and supply decisions
/// (`SupplyController`, commands queued through `CommandQueue`). No HTTP, no dispatcher: a command stays queued, which
/// is exactly what these services promise.
@Suite("Prepaid services")
struct PrepaidServiceTests {
    /// 2026-11-01T00:00:00Z (08:00 in Shanghai).
    static let start = Date(timeIntervalSince1970: 1_793_491_200)

    struct Meter {
        var companyId: String
        var houseId: String
        var device: KnownDevice
        var plan: PrepaidPlan
        var scope: TenantScope { TenantScope(companyId: companyId) }
    }

    /// A prepaid electricity plan at a flat 1.0000 yuan/kWh, paid from the house's electricity wallet, on the first
    /// house meter of company A.
    static func meter(_ database: Database) async throws -> Meter {
        let companies = try await TwoCompanies.seed(database, .init(unitsPerBuilding: 2, housesPerUnit: 3, billing: false))
        let companyId = companies.a.companyId
        let (deviceId, key, houseId) = try await database.read { db in
            let row = try #require(
                try await db.raw(
                    """
                    SELECT d.id, d.device_key, b.target_id FROM devices d
                    JOIN device_bindings b ON b.device_id = d.id AND b.target_kind = 'house'
                    WHERE d.company_id = \(bind: companyId) AND d.kind = 'electricity_meter' ORDER BY d.device_key LIMIT 1
                    """
                ).first())
            return (
                try row.decode(column: "id", as: String.self), try row.decode(column: "device_key", as: String.self),
                try row.decode(column: "target_id", as: String.self)
            )
        }
        let device = try #require(try await database.read { db in try await DeviceDirectory.load(db, companyId: companyId, keys: [key]) }[key])
        #expect(device.id == deviceId)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config = try decoder.decode(
            PlanConfig.self,
            from: Data(
                """
                {"wallets": [{"purpose": "electricity"}],
                 "tariff": {"kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly", "tiers": [{"price": "1.0000"}]},
                 "warn_below": {"amount": "3.00", "currency": "CNY"}}
                """.utf8))
        let plan = try await database.transaction { db in
            try await PlanStore(db, companyId: companyId).create(
                houseId: houseId, deviceId: deviceId, register: "energy_total", config: config, scope: TenantScope(companyId: companyId),
                actor: "test", now: start)
        }
        return Meter(companyId: companyId, houseId: houseId, device: device, plan: plan)
    }

    static func topUp(_ database: Database, _ meter: Meter, _ amount: String, id: String) async throws -> TopUp.Result {
        try await database.transaction { db in
            try await TopUp(db, companyId: meter.companyId, engine: database.engine).apply(
                TopUp.Request(id: id, purpose: "electricity", amount: try Money(parsing: amount, currency: .cny), channel: "cash"),
                house: meter.houseId, scope: meter.scope, actor: "test", now: start)
        }
    }

    /// The plan's money in fen: wallets less what is owed beyond them.
    static func available(_ database: Database, _ meter: Meter) async throws -> Int64 {
        try await database.read { db in
            let controller = SupplyController(TenantSQL(db, companyId: meter.companyId, engine: database.engine))
            return SupplyController.available(meter.plan, accounts: try await controller.accounts(meter.plan))
        }
    }

    static func supply(_ database: Database, _ meter: Meter) async throws -> SupplyStatus {
        try await database.read { db in
            try #require(
                try await SupplyController(TenantSQL(db, companyId: meter.companyId, engine: database.engine)).status(device: meter.device.id))
        }
    }

    static func openCommands(_ database: Database, _ meter: Meter) async throws -> [DeviceCommand] {
        try await database.read { db in try await CommandQueue(db, companyId: meter.companyId).open(deviceId: meter.device.id) }
    }

    static func reading(_ meter: Meter, _ kWh: String, hoursBefore hours: Int64) throws -> ResolvedReading {
        let at = start.epochMilliseconds - hours * 3_600_000
        return ResolvedReading(
            device: meter.device, register: "energy_total", value: .cumulative(try Quantity(parsing: kWh).milliUnits),
            measuredAt: at, receivedAt: at, messageId: nil, source: "test")
    }

    @Test(
        "readings deduct to the fen as they commit, a warning comes before zero, running out closes the supply, a top-up repays and reopens: on the fast path and the careful one alike",
        arguments: TestEngine.available, [false, true])
    func runToZeroAndRestore(engine: TestEngine, careful: Bool) async throws {
        try await engine.withDatabase(fastPaths: careful ? .careful : .all) { database in
            let meter = try await Self.meter(database)
            let first = try await Self.topUp(database, meter, "10.00", id: "t-1")
            #expect(first.walletBalance.minorUnits == 1_000)
            #expect(first.commands.isEmpty)

            let writer = ReadingWriter(database: database, clock: FixedClock(instant: Self.start), effects: PrepaidDeduction())
            // One reading per submission: the first loads the writer's memory on the careful path, the later ones may take
            // the fast path (SQLite, fast paths on).
            for (value, hours) in [("1000", Int64(4)), ("1004", 3), ("1008", 2)] {
                let outcomes = try await writer.submit(companyId: meter.companyId, [try Self.reading(meter, value, hoursBefore: hours)])
                guard case .accepted = try #require(outcomes.first) else {
                    Issue.record("reading \(value) was not accepted: \(outcomes)")
                    return
                }
            }
            if engine == .sqlite && !careful { #expect(await writer.rawBatches >= 1, "no reading took the fast path") }
            if careful { #expect(await writer.rawBatches == 0) }
            #expect(try await Self.available(database, meter) == 200)
            #expect(try await Self.supply(database, meter).desired == .open)
            let warnings = try await database.read { db in
                try await Outbox.list(db, companyId: meter.companyId, communities: nil, house: meter.houseId, limit: 10).map(\.kind)
            }
            #expect(warnings == ["low_balance"])

            // 4.5 kWh more: 2.00 from the wallet, 2.50 owed; nothing left, so the supply is to close, and one command says so.
            _ = try await writer.submit(companyId: meter.companyId, [try Self.reading(meter, "1012.5", hoursBefore: 1)])
            #expect(try await Self.available(database, meter) == -250)
            #expect(try await Self.supply(database, meter).desired == .closed)
            let closing = try await Self.openCommands(database, meter)
            #expect(closing.map(\.action) == [.closed])

            // A replay is a duplicate: nothing is charged again.
            let replay = try await writer.submit(companyId: meter.companyId, [try Self.reading(meter, "1008", hoursBefore: 2)])
            guard case .duplicate = try #require(replay.first) else {
                Issue.record("a replayed reading was not a duplicate: \(replay)")
                return
            }
            #expect(try await Self.available(database, meter) == -250)

            // A top-up repays what is owed first, and asks for the supply back.
            let second = try await Self.topUp(database, meter, "5.00", id: "t-2")
            #expect(second.repaid["electricity"]?.minorUnits == 250)
            #expect(second.commands.count == 1)
            #expect(try await Self.available(database, meter) == 250)
            #expect(try await Self.supply(database, meter).desired == .open)
            #expect(try await Self.openCommands(database, meter).first?.action == .open)
            // The same top-up again moves nothing.
            let again = try await Self.topUp(database, meter, "5.00", id: "t-2")
            #expect(again.replayed)
            #expect(try await Self.available(database, meter) == 250)
            await writer.idle()
        }
    }

    @Test("a plan cannot name property-fee arrears as a cut-off trigger (Civil Code art. 944)", arguments: TestEngine.available)
    func arrearsIsNoTrigger(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let meter = try await Self.meter(database)
            var unlawful = meter.plan.config
            unlawful.cutoffTriggers = ["prepaid_balance", "property_fee_arrears"]
            let config = unlawful
            let refused = await #expect(throws: PrepaidError.self) {
                try await database.transaction { db in
                    try await PlanStore(db, companyId: meter.companyId).create(
                        houseId: meter.houseId, deviceId: meter.device.id, register: "energy_total", config: config, scope: meter.scope,
                        actor: "test", now: Self.start)
                }
            }
            #expect(refused?.code == "unlawful_cutoff_trigger", "\(String(describing: refused))")
            #expect(refused?.field == "cutoff_triggers[1]")
        }
    }
}
