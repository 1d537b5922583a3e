import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

@testable import CourtyardIngest

/// Routine readings on SQLite wait in an index-free recent table and move into `meter_readings` in device order; at
/// every commit each accepted reading is shown exactly once, and whatever reads or changes readings sees all of them.
@Suite struct RecentReadingsTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let base: Int64 = 1_790_000_000_000

    /// Round `round` of every device reporting its register, `1.000` per hour, in order.
    static func round(_ round: Int, devices: [KnownDevice]) -> [ResolvedReading] {
        devices.enumerated().map { index, device in
            let at = base + Int64(round) * 3_600_000
            return ResolvedReading(
                device: device, register: "energy_total", value: .cumulative(Int64(index) * 1_000_000 + Int64(round) * 1_000),
                measuredAt: at, receivedAt: at, messageId: nil, source: "test")
        }
    }

    static func count(_ database: Database, _ sql: String) async throws -> Int {
        try await database.read { db in try await db.raw(SQLQueryString(sql)).first()!.decode(column: "n", as: Int.self) }
    }

    /// Every reading once: as many rows as distinct ids and as distinct keys.
    static func expectShownOnce(_ database: Database, total: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await count(database, "SELECT COUNT(*) AS n FROM readings_all") == total, sourceLocation: sourceLocation)
        #expect(try await count(database, "SELECT COUNT(DISTINCT id) AS n FROM readings_all") == total, sourceLocation: sourceLocation)
        #expect(
            try await count(
                database,
                """
                SELECT COUNT(*) AS n FROM (SELECT DISTINCT device_id, register, measured_at FROM readings_all) k
                """) == total, sourceLocation: sourceLocation)
    }

    @Test("routine readings wait in a recent table, readers see them, and moving them changes nothing a reader sees")
    func readersSeeRecent() async throws {
        try await TestEngine.sqlite.withDatabase(fastPaths: .all) { database in
            let devices = try await FastPathTests.seed(database, now: Self.now)
            // No idle move: on a busy machine the writer's own move (after 200 ms idle) could take the readings first.
            let writer = ReadingWriter(database: database, clock: FixedClock(instant: Self.now), idlePause: .seconds(3_600))
            for round in 0..<5 { _ = try await writer.submit(companyId: FastPathTests.company, Self.round(round, devices: devices)) }
            #expect(await writer.rawBatches > 0)
            #expect(
                try await Self.count(database, "SELECT COUNT(*) AS n FROM recent_readings_0")
                    + Self.count(database, "SELECT COUNT(*) AS n FROM recent_readings_1") > 0,
                "the raw path appended to a recent table")
            try await Self.expectShownOnce(database, total: 100)
            func usage() async throws -> Int64 {
                try await database.read { db in
                    try await UsageSeries.query(
                        db, companyId: FastPathTests.company, device: devices[3], register: "energy_total",
                        from: Self.base, to: Self.base + 10 * 3_600_000, granularity: .day
                    ).reduce(0) { $0 + $1.milli }
                }
            }
            #expect(try await usage() == 4_000, "four hourly deltas of 1.000 after the first reading")
            let moved = try await database.transaction { db in try await RecentReadings.settleAll(db) }
            #expect(moved)
            #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM meter_readings") == 100)
            #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM recent_readings_0") == 0)
            #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM recent_readings_1") == 0)
            try await Self.expectShownOnce(database, total: 100)
            #expect(try await usage() == 4_000)
        }
    }

    @Test("a move in steps shows every reading exactly once after each commit, then leaves everything in meter_readings")
    func movesInSteps() async throws {
        try await TestEngine.sqlite.withDatabase(fastPaths: .all) { database in
            let devices = try await FastPathTests.seed(database, now: Self.now)
            // Handed over every 500 readings; a batch of 20 takes a step of at least 256 rows, so each move takes two
            // steps and readers see a table half moved. No idle moves while the rounds run: on a loaded machine the pause
            // between two rounds outlasts the idle pause, and the idle writer would take both steps of every move at once,
            // so no commit would ever be seen half moved. The idle move is asked for by hand afterwards.
            let writer = ReadingWriter(database: database, clock: FixedClock(instant: Self.now), recentLimit: 500, idlePause: .seconds(86_400))
            var total = 0
            var halfMoved = 0
            for round in 0..<80 {
                let outcomes = try await writer.submit(companyId: FastPathTests.company, Self.round(round, devices: devices))
                #expect(outcomes.allSatisfy { if case .accepted = $0 { true } else { false } })
                total += outcomes.count
                try await Self.expectShownOnce(database, total: total)
                if try await Self.count(database, "SELECT COUNT(*) AS n FROM recent_state WHERE bound > ''") > 0 { halfMoved += 1 }
                // Let the sort of a handed-over table finish now and then, so that later batches take move steps. Waits
                // for the sort itself, not for a time: on a loaded machine a sort can take longer than any fixed pause.
                if round % 4 == 3 {
                    for _ in 0..<6_000 where await writer.sorting != nil { try await Task.sleep(for: .milliseconds(5)) }
                }
            }
            #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM meter_readings") > 0, "moves ran while readings came in")
            #expect(halfMoved > 0, "some commits left a table half moved")
            // Idle, the writer moves the rest on its own.
            var left = -1
            for _ in 0..<600 where left != 0 {
                await writer.moveWhileIdle(stamp: await writer.batches)
                try await Task.sleep(for: .milliseconds(100))
                left = try await Self.count(
                    database, "SELECT (SELECT COUNT(*) FROM recent_readings_0) + (SELECT COUNT(*) FROM recent_readings_1) AS n")
            }
            #expect(left == 0)
            #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM meter_readings") == total)
            try await Self.expectShownOnce(database, total: total)
            // Usage was derived against the right neighbour throughout: every reading after a device's first is 1.000.
            #expect(try await Self.count(database, "SELECT COUNT(*) AS n FROM meter_readings WHERE usage_milli = 1000") == total - devices.count)
        }
    }

    @Test("a restarted writer moves what an earlier one left, and a late reading is decided against recent neighbours")
    func restartAndLateReading() async throws {
        try await TestEngine.sqlite.withDatabase(fastPaths: .all) { database in
            let devices = try await FastPathTests.seed(database, now: Self.now)
            let first = ReadingWriter(database: database, clock: FixedClock(instant: Self.now), recentLimit: 50)
            for round in 0..<6 { _ = try await first.submit(companyId: FastPathTests.company, Self.round(round, devices: devices)) }
            try await Self.expectShownOnce(database, total: 120)

            // A new writer knows nothing: its first batch takes the careful path, which moves everything first.
            let second = ReadingWriter(database: database, clock: FixedClock(instant: Self.now))
            // Device 5 sends a reading it had cached, between rounds 3 and 4: 0.400 after round 3's value.
            let late = ResolvedReading(
                device: devices[5], register: "energy_total", value: .cumulative(5_000_000 + 3_400),
                measuredAt: Self.base + 3 * 3_600_000 + 1_800_000, receivedAt: Self.base, messageId: nil, source: "test")
            let outcome = try await second.submit(companyId: FastPathTests.company, [late])
            guard case .accepted(_, let usage) = outcome[0] else {
                Issue.record("late reading not accepted: \(outcome)")
                return
            }
            #expect(usage == 400)
            #expect(
                try await Self.count(database, "SELECT (SELECT COUNT(*) FROM recent_readings_0) + (SELECT COUNT(*) FROM recent_readings_1) AS n") == 0
            )
            try await Self.expectShownOnce(database, total: 121)
            // The next reading's usage was re-derived from the late one: 0.600 since it.
            let next = try await database.read { db in
                try await db.raw(
                    """
                    SELECT usage_milli, since FROM meter_readings WHERE device_id = \(bind: devices[5].id) AND measured_at = \(bind: Self.base + 4 * 3_600_000)
                    """
                ).first()!
            }
            #expect(try next.decode(column: "usage_milli", as: Int64.self) == 600)
            #expect(try next.decode(column: "since", as: Int64.self) == late.measuredAt)
            // The same reading again is a duplicate, not a second row.
            let again = try await second.submit(companyId: FastPathTests.company, [late])
            if case .duplicate = again[0] {} else { Issue.record("replay not a duplicate: \(again)") }
            try await Self.expectShownOnce(database, total: 121)
        }
    }

    @Test("the active table is handed over when full or old, never while a move is under way")
    func switchRule() {
        let row = RecentRow(rowid: 1, device: DeviceKey("d"), register: "energy_total", measuredAt: 0)
        var tables = RecentTables()
        #expect(!tables.wantsSwitch(adding: 0, limit: 10, now: 0), "nothing to hand over")
        tables.rows = Array(repeating: row, count: 9)
        tables.startedAt = 1_000
        #expect(!tables.wantsSwitch(adding: 0, limit: 10, now: 2_000))
        #expect(tables.wantsSwitch(adding: 1, limit: 10, now: 2_000), "full with this batch")
        #expect(tables.wantsSwitch(adding: 0, limit: 10, now: 1_000 + RecentTables.maximumAgeMilliseconds), "old")
        tables.switched()
        #expect(tables.active == 1 && tables.rows.isEmpty && tables.move?.table == 0 && tables.move?.rows.count == 9)
        tables.rows = Array(repeating: row, count: 20)
        #expect(!tables.wantsSwitch(adding: 5, limit: 10, now: 2_000), "the other table is still moving")
    }

    @Test("a step is due once a quarter of the smallest step came in, and takes one and a half times what came in, at least the smallest")
    func stepRule() {
        let row = RecentRow(rowid: 1, device: DeviceKey("d"), register: "energy_total", measuredAt: 0)
        var tables = RecentTables()
        tables.debt = 10_000
        #expect(tables.dueStep(limit: 200_000) == nil, "no move")
        tables.move = RecentTables.Move(table: 0, rows: [row], serial: 1)
        #expect(tables.dueStep(limit: 200_000) == nil, "not sorted yet")
        tables.move?.order = [0]
        tables.debt = RecentTables.stepRows / 4 - 1
        #expect(tables.dueStep(limit: 200_000) == nil)
        #expect(tables.dueStep(limit: 200_000, adding: 1) == RecentTables.stepRows)
        tables.debt = 3_000
        #expect(tables.dueStep(limit: 200_000) == 4_500)
        tables.debt = 30
        #expect(tables.dueStep(limit: 400) == 100, "small setups step by a quarter of the limit")
    }
}
