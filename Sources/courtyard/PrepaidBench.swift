import ArgumentParser
import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardPrepaid
import CourtyardServer
import CourtyardStorage
import Foundation
import Logging
import SQLKit
import Synchronization

/// `courtyard bench prepaid`: while prepaid meters report at a steady rate through the real ingestion writer (each
/// reading rated and deducted in its transaction), measures two latencies:
///
/// - **cut-off**: from the commit of the reading batch that took a plan's balance to zero to its cut-off command being
///   handed to the transport (SENT);
/// - **restore**: from the commit of a top-up to its restore command SENT.
///
/// The fleet is in process (a transport that acks at once through the real device-report path); as soon as a meter
/// is cut off, a front-desk worker tops its house up, so both paths run continuously for the whole measurement.
struct PrepaidBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepaid", abstract: "Top-up→restore and zero→cut-off latency (p50/p99/max) while prepaid readings stream in.")

    @OptionGroup var target: BenchEngineOptions
    @Option(help: "Prepaid houses (one electricity meter and plan each).") var meters: Int = 2_000
    @Option(help: "Target readings per second (the run reports what it reached).") var rate: Int = 12_000
    @Option(help: "Readings per ingestion request.") var batch: Int = 500
    @Option(help: "Concurrent ingestion requests (each reports for its own meters, in order).") var concurrency: Int = 8
    @Option(help: "Seconds of measurement.") var seconds: Int = 30
    @Option(help: "Each top-up, in fen (a reading is 0.1 kWh at 1.00 yuan/kWh = 10 fen).") var topUp: Int64 = 300
    @Option(help: "Meters that run to zero and are topped up again (the rest hold 10,000.00 and never run out).") var cycling: Int = 300

    /// Commit instants and SENT instants by command id.
    final class Timings: Sendable {
        struct State {
            var committed: [String: (ContinuousClock.Instant, String)] = [:]
            var sent: [String: ContinuousClock.Instant] = [:]
            /// When each device's last ack committed, and the commands that had to wait for one (one in flight per device).
            var lastAck: [String: ContinuousClock.Instant] = [:]
            var waited: Set<String> = []
            /// Sends of a command already sent (the dispatcher must send each command once unless its ack is overdue).
            var resent = 0
            var pendingCutoffs: [String] = []
        }
        let state = Mutex(State())
    }

    /// Wraps the deduction to learn which commands each reading transaction queued, and when it committed.
    final class RecordingEffects: ReadingEffects {
        let inner: PrepaidDeduction
        let timings: Timings
        let queued = Mutex<[String]>([])
        init(inner: PrepaidDeduction, timings: Timings) {
            self.inner = inner
            self.timings = timings
        }
        func devices(_ db: any SQLDatabase) async throws -> Set<String> { try await inner.devices(db) }
        var supportsFastPath: Bool { inner.supportsFastPath }
        func applyFast(_ sql: TenantFastSQL, readings: [AcceptedReading], now: Date) throws -> Bool {
            guard try inner.applyFast(sql, readings: readings, now: now) else { return false }
            let query = try sql.prepare(Self.queuedCloses)
            query.bind(2, now.epochMilliseconds)
            var ids: [String] = []
            while try query.step() { ids.append(query.string(0)) }
            query.reset()
            queued.withLock { $0.append(contentsOf: ids) }
            return true
        }
        static let queuedCloses = TenantQuery.select(
            "id", from: "device_commands", where: "state = 'queued' AND action = 'close' AND created_at >= ?2")
        func apply(_ db: any SQLDatabase, engine: Database.Engine, companyId: String, readings: [AcceptedReading], now: Date) async throws {
            let before = now.epochMilliseconds
            try await inner.apply(db, engine: engine, companyId: companyId, readings: readings, now: now)
            let ids = try await db.raw(
                """
                SELECT id FROM device_commands WHERE state = 'queued' AND action = 'close' AND created_at >= \(bind: before)
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
            queued.withLock { $0.append(contentsOf: ids) }
        }
        func committed() async {
            let now = ContinuousClock.now
            let ids = queued.withLock { ids in
                defer { ids.removeAll() }; return ids
            }
            timings.state.withLock { state in for id in ids where state.committed[id] == nil { state.committed[id] = (now, "cutoff") } }
            await inner.committed()
        }
    }

    func run() async throws {
        target.bootstrapLogging()
        let logger = Logger(label: "courtyard.bench")
        let scratch = try await ScratchDatabase.make(
            engine: target.engine, postgresURL: target.postgresURL, logger: logger, fastPaths: target.carefulPaths)
        let database = scratch.database
        do {
            try await Migrator().migrate(database)
            let (companyId, devices, houses) = try await seed(database)
            let timings = Timings()
            let dispatcher = CommandDispatcher(database: database, effects: PrepaidDeviceEffects())
            let reports = DeviceReports(database: database, dispatcher: dispatcher, effects: PrepaidDeviceEffects())
            let effects = RecordingEffects(inner: PrepaidDeduction(wake: { await dispatcher.wake() }), timings: timings)
            let ingestor = Ingestor(database: database, effects: effects)
            let houseOf = Dictionary(uniqueKeysWithValues: zip(devices, houses))
            let (cutoffs, cutoffSink) = AsyncStream.makeStream(of: String.self)
            await dispatcher.use(
                CallbackTransport { command, _, _ in
                    let at = ContinuousClock.now
                    let first = timings.state.withLock { state -> Bool in
                        // The first send counts; another send of the same command is a duplicate, counted apart.
                        guard state.sent[command.id] == nil else { state.resent += 1; return false }
                        state.sent[command.id] = at
                        // Sent only after the device's previous command was acked after this one committed: it waited for the
                        // device (one command in flight), not for Courtyard.
                        if let acked = state.lastAck[command.deviceId], let committed = state.committed[command.id]?.0, acked > committed {
                            state.waited.insert(command.id)
                        }
                        return true
                    }
                    // The meter acts and acks at once; a cut meter's house is topped up by the front desk.
                    Task {
                        _ = try? await reports.acknowledge(
                            companyId: companyId, deviceId: command.deviceId, commandId: command.id,
                            status: .succeeded, error: nil)
                        let acked = ContinuousClock.now
                        timings.state.withLock { $0.lastAck[command.deviceId] = acked }
                        if first, command.action == .closed, let house = houseOf[command.deviceId] { cutoffSink.yield(house) }
                    }
                })

            // Owners top up every house whose supply was cut, as soon as it was cut: each in its own task, as owners paying
            // from their phones do, so top-ups wait for the write lock side by side rather than one after another.
            let engine = database.engine
            let topUps = Task {
                await withTaskGroup(of: Void.self) { group in
                    var count = 0
                    for await house in cutoffs {
                        count += 1
                        let request = TopUp.Request(
                            id: "bench-\(count)-\(house.suffix(8))", purpose: "electricity",
                            amount: Money(minorUnits: topUp), channel: "cash")
                        group.addTask {
                            let now = Date()
                            let result = try? await database.transaction { db in
                                try await TopUp(db, companyId: companyId, engine: engine)
                                    .apply(request, house: house, scope: TenantScope(companyId: companyId), actor: "bench", now: now)
                            }
                            let committed = ContinuousClock.now
                            if let result {
                                timings.state.withLock { state in for id in result.commands { state.committed[id] = (committed, "restore") } }
                                await dispatcher.wake()
                            }
                        }
                    }
                }
            }

            // Readings: each meter's register advances 0.1 kWh per reading, one second of meter time apart.
            let start = Int64(Date().timeIntervalSince1970 * 1000) - Int64(seconds + 60) * 86_400
            final class Counter: Sendable { let value = Atomic<Int>(0) }
            let sent = Counter()
            let (batch, concurrency, meters) = (batch, concurrency, meters)
            let began = ContinuousClock.now
            let end = began + .seconds(seconds)
            let perRequestInterval = Duration.seconds(Double(batch * concurrency) / Double(rate))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask { [ingestor] in
                        var next = ContinuousClock.now
                        var round = 0
                        while ContinuousClock.now < end {
                            var items: [Result<ReadingSubmission, ReadingError>] = []
                            items.reserveCapacity(batch)
                            // Each worker reports for its own meters (meter % concurrency == worker), so a meter's readings
                            // are never in flight twice and arrive in order, as a real meter's do.
                            let own = max(1, meters / concurrency)
                            for slot in 0..<batch {
                                let serial = round * batch + slot
                                let meter = worker + concurrency * (serial % own)
                                let step = Int64(serial / own)
                                items.append(
                                    .success(
                                        ReadingSubmission(
                                            deviceKey: "pm\(meter)", register: "energy_total",
                                            value: .cumulative(100_000 + step * 100),
                                            time: .instant(milliseconds: start + step * 1000))))
                            }
                            _ = try await ingestor.ingest(companyId: companyId, items: items, source: "bench")
                            sent.value.add(batch, ordering: .relaxed)
                            round += 1
                            next += perRequestInterval
                            if next > ContinuousClock.now { try await Task.sleep(until: next) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - began
            try await Task.sleep(for: .seconds(2))
            cutoffSink.finish()
            await topUps.value
            await dispatcher.settle()

            let (cutoffLatencies, restoreLatencies, unsent, waited) = timings.state.withLock { state -> ([Double], [Double], Int, [Double]) in
                var cut: [Double] = [], restore: [Double] = [], unsent = 0, waited: [Double] = []
                for (id, (committed, kind)) in state.committed {
                    guard let at = state.sent[id] else { unsent += 1; continue }
                    if state.waited.contains(id) {
                        let wait = at - committed
                        waited.append(Double(wait.components.attoseconds) / 1e15 + Double(wait.components.seconds) * 1000)
                        continue
                    }
                    // A command can leave before its committer noted the commit instant (the dispatcher was already awake):
                    // that latency is below what the clock here can tell, so it counts as zero.
                    let ms = max(0, Double((at - committed).components.attoseconds) / 1e15 + Double((at - committed).components.seconds) * 1000)
                    if kind == "cutoff" { cut.append(ms) } else { restore.append(ms) }
                }
                return (cut.sorted(), restore.sorted(), unsent, waited.sorted())
            }
            let readings = sent.value.load(ordering: .relaxed)
            let stored = try await database.read { db in
                (
                    try await db.raw("SELECT COUNT(*) AS n FROM prepaid_charges").first()!.decode(column: "n", as: Int.self),
                    try await db.raw("SELECT COUNT(*) AS n FROM readings_all").first()!.decode(column: "n", as: Int.self)
                )
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                "engine \(target.engine): \(meters) prepaid meters (\(cycling) run to zero and are topped up again), \(concurrency) × \(batch)-reading requests, target \(rate) readings/s"
            )
            print("writer: \(await ingestor.writer.batches) transactions, \(await ingestor.writer.rawBatches) on the SQLite raw path")
            print(
                "readings: \(readings) in \(BenchSupport.format(seconds)) s = \(Int(Double(readings) / seconds)) readings/s; stored \(stored.1), charges \(stored.0)"
            )
            func report(_ name: String, _ values: [Double]) {
                guard !values.isEmpty else { print("\(name): none"); return }
                func at(_ q: Double) -> String { BenchSupport.format(values[min(values.count - 1, Int(Double(values.count) * q))]) }
                print("\(name): n=\(values.count) p50 \(at(0.5)) ms, p99 \(at(0.99)) ms, max \(BenchSupport.format(values.last!)) ms")
            }
            report("zero → cut-off SENT", cutoffLatencies)
            report("top-up committed → restore SENT", restoreLatencies)
            report("(apart: commands that waited for the device to ack its previous one, commit → SENT)", waited)
            if unsent > 0 { print("commands committed but not sent when the run ended: \(unsent)") }
            let resent = timings.state.withLock { $0.resent }
            print("commands sent more than once: \(resent)")
            // The floor of the same run: durable one-row commits on the same database; no command can be SENT sooner.
            let floor = try await ReadingFloor.commitLatencies(database, count: 500)
            report("floor: a durable one-row commit", floor)
            func quantile(_ values: [Double], _ q: Double) -> Double? {
                values.isEmpty ? nil : values[min(values.count - 1, Int(Double(values.count) * q))]
            }
            func rounded(_ value: Double?) -> Any { value.map { ($0 * 1000).rounded() / 1000 } ?? NSNull() }
            let floorP99 = quantile(floor, 0.99)
            let restoreP99 = quantile(restoreLatencies, 0.99)
            let json: [String: Any] = [
                "benchmark": "prepaid", "engine": target.engine, "meters": meters, "cycling_meters": cycling,
                "readings": readings, "seconds": rounded(seconds), "readings_per_second": Int(Double(readings) / seconds),
                "cutoff_count": cutoffLatencies.count, "cutoff_p50_ms": rounded(quantile(cutoffLatencies, 0.5)),
                "cutoff_p99_ms": rounded(quantile(cutoffLatencies, 0.99)),
                "restore_count": restoreLatencies.count, "restore_p50_ms": rounded(quantile(restoreLatencies, 0.5)),
                "restore_p99_ms": rounded(quantile(restoreLatencies, 0.99)), "restore_max_ms": rounded(restoreLatencies.last),
                "unsent": unsent, "resent": resent, "floor_commit_p50_ms": rounded(quantile(floor, 0.5)), "floor_commit_p99_ms": rounded(floorP99),
                "restore_p99_ratio_to_floor": rounded(restoreP99.flatMap { restore in floorP99.map { restore / max($0, 0.001) } }),
                "peak_rss_bytes": BenchSupport.peakRSS(), "git_commit": BenchSupport.gitCommit(),
            ]
            print("commit \(BenchSupport.gitCommit())")
            print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
        } catch {
            await scratch.drop()
            throw error
        }
        await scratch.drop()
    }

    /// A company with one community, `meters` houses with an electricity meter each, a prepaid plan per meter at
    /// 1.0000 yuan/kWh, and an opening top-up.
    func seed(_ database: Database) async throws -> (String, [String], [String]) {
        let now = Date()
        let companyId = Identifier.uuidV7(at: now)
        let community = Identifier.uuidV7(at: now)
        let building = Identifier.uuidV7(at: now)
        let ms = now.epochMilliseconds
        var devices: [String] = []
        var houses: [String] = []
        var sequence = IdentifierSequence(at: now)
        for _ in 0..<meters {
            devices.append(sequence.next())
            houses.append(sequence.next())
        }
        let (devices_, houses_) = (devices, houses)
        try await database.transaction { db in
            let (devices, houses) = (devices_, houses_)
            try await AccountStore(db).insert(
                Company(
                    id: companyId, code: "bench-\(companyId.suffix(6))", name: "Bench", currency: .cny,
                    createdAt: now, updatedAt: now))
            let store = ScopedStore(db, scope: TenantScope(companyId: companyId))
            try await store.insert(
                Community(
                    id: community, companyId: companyId, code: "B", name: "Bench", timeZone: "Asia/Shanghai",
                    currency: .cny, address: nil, createdAt: now, updatedAt: now))
            let tenant = TenantSQL(db, scope: TenantScope(companyId: companyId))
            try await tenant.insert(
                into: "buildings", columns: ["id", "community_id", "name", "floors", "created_at", "updated_at"],
                values: [building, community, "B1", 30, ms, ms]
            ).run()
            for part in Array(0..<meters).chunked(400) {
                let houseRows: [[any Encodable & Sendable]] = part.map { index in
                    [houses[index], community, building, String?.none, "h\(index)", 1, Int64(9_000), Int64(7_500), "residential", "occupied", ms, ms]
                }
                try await tenant.insert(
                    into: "houses",
                    columns: [
                        "id", "community_id", "building_id", "unit_id", "number", "floor",
                        "built_area_hundredths", "indoor_area_hundredths", "house_type", "status",
                        "created_at", "updated_at",
                    ], rows: houseRows
                ).run()
                let insertDevices = db.insert(into: "devices").columns(Device.columns)
                for index in part {
                    insertDevices.values(
                        SQLBind(devices[index]), SQLBind(companyId), SQLBind(community), SQLBind("pm\(index)"),
                        SQLBind("electricity_meter"), SQLBind("mqtt"), SQLLiteral.null, SQLLiteral.null, SQLBind("active"),
                        SQLLiteral.null, SQLLiteral.null, SQLBind(ms), SQLBind(ms))
                }
                try await insertDevices.run()
            }
            let rule = PricingRule(
                kind: .metered, unit: "kWh", mode: .graduated, accumulation: .monthly,
                tiers: [.init(upTo: nil, price: UnitPrice(tenThousandths: 10_000))])
            let config = PlanConfig(wallets: [.init(purpose: "electricity")], tariff: rule)
            let plans = PlanStore(db, companyId: companyId)
            for index in 0..<meters {
                _ = try await plans.create(
                    houseId: houses[index], deviceId: devices[index], register: "energy_total", config: config,
                    scope: TenantScope(companyId: companyId), actor: "bench", now: now)
            }
        }
        for part in Array(0..<meters).chunked(200) {
            try await database.transaction { [houses] db in
                for index in part {
                    _ = try await TopUp(db, companyId: companyId, engine: database.engine).apply(
                        TopUp.Request(
                            id: "open-\(index)", purpose: "electricity",
                            amount: Money(minorUnits: index < cycling ? topUp + Int64(index * 37 % 300) : 1_000_000), channel: "cash"),
                        house: houses[index], scope: TenantScope(companyId: companyId), actor: "bench", now: now)
                }
            }
        }
        return (companyId, devices, houses)
    }
}
