import CourtyardStorage
import Foundation
import NIOPosix
import SQLKit

/// Floors for the ingestion and prepaid benchmarks, measured in the same run as the figures they divide.
///
/// - ``insert(_:rows:devices:perTransaction:)``: reading-shaped rows (the columns and unique key of `meter_readings`,
///   as many devices as the run had, readings in time order per device) inserted with prepared statements and no
///   logic, `perTransaction` rows per durable commit: the speed of storing the readings alone.
/// - ``commitLatencies(_:count:)``: durable one-row commits on the same engine and file system: the least time any
///   "committed → sent" can take.
public enum ReadingFloor {
    static let createTable = """
        CREATE TABLE bench_reading_floor (id TEXT PRIMARY KEY, company_id TEXT NOT NULL, community_id TEXT NOT NULL,
        device_id TEXT NOT NULL, register TEXT NOT NULL, measured_at BIGINT NOT NULL, received_at BIGINT NOT NULL,
        reading_milli BIGINT, usage_milli BIGINT, since BIGINT, message_id TEXT, source TEXT NOT NULL, origin TEXT NOT NULL,
        UNIQUE (device_id, register, measured_at))
        """

    /// Seconds to insert `rows` readings of `devices` meters, `perTransaction` per commit.
    public static func insert(_ database: Database, rows: Int, devices: Int, perTransaction: Int) async throws -> Double {
        let devices = max(1, devices)
        if database.engine == .sqlite, let path = database.sqlitePath {
            return try await InsertFloor.scratch(path: path + ".reading-floor", table: createTable) { raw in
                let start = ContinuousClock.now
                for first in stride(from: 0, to: rows, by: perTransaction) {
                    try raw.begin()
                    let insert = try raw.statement(
                        """
                        INSERT INTO bench_reading_floor (id, company_id, community_id, device_id, register, measured_at, received_at,
                        reading_milli, usage_milli, since, message_id, source, origin)
                        VALUES (?1, 'c', 'm', ?2, 'energy_total', ?3, ?3, ?4, 1000, NULL, NULL, 'http', 'device')
                        """)
                    for index in first..<min(first + perTransaction, rows) {
                        insert.bind(1, String(format: "r%012d", index)); insert.bind(2, "d\(index % devices)")
                        insert.bind(3, Int64(index / devices) * 60_000); insert.bind(4, Int64(index / devices) * 1_000)
                        try insert.run()
                        insert.reset()
                    }
                    try raw.commit()
                }
                return InsertFloor.seconds(since: start)
            }
        }
        try await database.transaction { db in
            try await db.raw("DROP TABLE IF EXISTS bench_reading_floor").run()
            try await db.raw(SQLQueryString(createTable)).run()
        }
        let start = ContinuousClock.now
        for first in stride(from: 0, to: rows, by: perTransaction) {
            try await database.transaction { db in
                for part in Array(first..<min(first + perTransaction, rows)).chunked(1_000) {
                    let insert = db.insert(into: "bench_reading_floor").columns(
                        "id", "company_id", "community_id", "device_id", "register",
                        "measured_at", "received_at", "reading_milli", "usage_milli",
                        "source", "origin")
                    for index in part {
                        insert.values(
                            SQLBind(String(format: "r%012d", index)), SQLBind("c"), SQLBind("m"), SQLBind("d\(index % devices)"),
                            SQLBind("energy_total"), SQLBind(Int64(index / devices) * 60_000), SQLBind(Int64(index / devices) * 60_000),
                            SQLBind(Int64(index / devices) * 1_000), SQLBind(Int64(1_000)), SQLBind("http"), SQLBind("device"))
                    }
                    try await insert.run()
                }
            }
        }
        let seconds = InsertFloor.seconds(since: start)
        try await database.transaction { db in try await db.raw("DROP TABLE IF EXISTS bench_reading_floor").run() }
        return seconds
    }

    /// Milliseconds of `count` durable one-row commits, sorted.
    public static func commitLatencies(_ database: Database, count: Int) async throws -> [Double] {
        try await database.transaction { db in
            try await db.raw("DROP TABLE IF EXISTS bench_commit_floor").run()
            try await db.raw("CREATE TABLE bench_commit_floor (id BIGINT PRIMARY KEY, at BIGINT NOT NULL)").run()
        }
        var latencies: [Double] = []
        for index in 0..<count {
            let start = ContinuousClock.now
            try await database.transaction { db in
                try await db.raw("INSERT INTO bench_commit_floor (id, at) VALUES (\(bind: Int64(index)), \(bind: Int64(index)))").run()
            }
            let elapsed = ContinuousClock.now - start
            latencies.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        try await database.transaction { db in try await db.raw("DROP TABLE bench_commit_floor").run() }
        return latencies.sorted()
    }
}
