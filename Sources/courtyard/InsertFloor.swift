import CourtyardSQLite
import CourtyardStorage
import Foundation
import NIOPosix
import SQLKit

/// The raw-insert floor for ledger benchmarks: journal-shaped rows inserted with prepared statements and no logic.
///
/// On SQLite it uses the same raw connection type and prepared statements as
/// the ledger's fast path (in a scratch file beside the database); on
/// PostgreSQL the same SQLKit multi-row inserts as the ledger store. Either
/// way it is the speed of writing the rows alone, the bound the ledger is
/// measured against.
public enum InsertFloor {
    static let columns = LedgerStore.entryColumns

    /// Seconds to insert `rows` rows into a fresh scratch table, `perTransaction` rows per transaction.
    ///
    /// On SQLite the table lives in a scratch file next to the database (removed afterwards): dropping a large table
    /// inside the measured database would leave a free list that the ledger's next pages are then taken from.
    public static func measure(_ database: Database, rows: Int, perTransaction: Int, tag: String) async throws -> Double {
        if database.engine == .sqlite, let path = database.sqlitePath {
            return try await measureSQLite(path: path + ".floor", rows: rows, perTransaction: perTransaction, tag: tag)
        }
        return try await measureSQLKit(database, rows: rows, perTransaction: perTransaction, tag: tag)
    }

    /// Runs `body` on a fresh scratch SQLite file at `path` with `table` created, off the event loops, and removes the
    /// file afterwards; `body` times its own inserts. Shared by the floors of every benchmark.
    static func scratch(path: String, table: String, _ body: @escaping @Sendable (RawSQLite) throws -> Double) async throws -> Double {
        let files = [path, path + "-wal", path + "-shm"]
        for file in files { try? FileManager.default.removeItem(atPath: file) }
        defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
        return try await NIOThreadPool.singleton.runIfActive {
            let raw = try RawSQLite(path: path, checkpointer: WALCheckpointer(path: path))
            try raw.execute(table)
            let seconds = try body(raw)
            raw.checkpointer?.drain()
            return seconds
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        seconds(of: ContinuousClock.now - start)
    }

    static func seconds(of elapsed: Duration) -> Double {
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func measureSQLite(path: String, rows: Int, perTransaction: Int, tag: String) async throws -> Double {
        try await scratch(path: path, table: createTable) { raw in
            let hash = String(repeating: "a", count: 64)
            let account = "00000000-0000-8000-8000-000000000000"
            let start = ContinuousClock.now
            for first in stride(from: 0, to: rows, by: perTransaction) {
                let last = min(first + perTransaction, rows)
                try raw.begin()
                let insert = try raw.statement(
                    """
                    INSERT INTO bench_floor (\(columns.joined(separator: ", ")))
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, ?13, NULL, NULL, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
                    """)
                for index in first..<last {
                    insert.bind(1, "c"); insert.bind(2, "m"); insert.bind(3, Int64(index)); insert.bind(4, "\(tag)-\(index)")
                    insert.bind(5, "post"); insert.bind(6, account); insert.bind(7, account); insert.bind(8, Int64(50))
                    insert.bind(9, Int64(0)); insert.bind(10, "CNY"); insert.bind(11, "wallet_transfer"); insert.bind(13, "bench")
                    insert.bind(16, Int64(index)); insert.bind(17, hash); insert.bind(18, Int64(1)); insert.bind(19, Int64(1))
                    insert.bind(20, hash); insert.bind(21, hash); insert.bind(22, Int64(index)); insert.bind(23, Int64(index))
                    try insert.run()
                    insert.reset()
                }
                try raw.commit()
            }
            return seconds(since: start)
        }
    }

    static let createTable = """
        CREATE TABLE bench_floor (company_id TEXT NOT NULL, community_id TEXT NOT NULL, sequence BIGINT NOT NULL,
        transfer_id TEXT NOT NULL, type TEXT NOT NULL, debit_account_id TEXT NOT NULL, credit_account_id TEXT NOT NULL,
        amount BIGINT NOT NULL, pending_amount BIGINT NOT NULL, currency TEXT NOT NULL, code TEXT NOT NULL, reference TEXT,
        actor TEXT NOT NULL, hold_id TEXT, expires_at BIGINT, recorded_at BIGINT NOT NULL, content_digest TEXT NOT NULL,
        debit_balance_after BIGINT NOT NULL, credit_balance_after BIGINT NOT NULL, previous_hash TEXT NOT NULL, hash TEXT NOT NULL,
        debit_previous BIGINT NOT NULL, credit_previous BIGINT NOT NULL, PRIMARY KEY (community_id, sequence))
        """

    /// The floor through SQLKit multi-row inserts (PostgreSQL), in the measured database.
    static func measureSQLKit(_ database: Database, rows: Int, perTransaction: Int, tag: String) async throws -> Double {
        try await database.transaction { db in
            try await db.raw("DROP TABLE IF EXISTS bench_floor").run()
            try await db.raw(SQLQueryString(createTable)).run()
        }
        let hash = String(repeating: "a", count: 64)
        let account = "00000000-0000-8000-8000-000000000000"
        let start = ContinuousClock.now
        for first in stride(from: 0, to: rows, by: perTransaction) {
            let last = min(first + perTransaction, rows)
            try await database.transaction { db in
                for part in Array(first..<last).chunked(1_000) {
                    let insert = db.insert(into: "bench_floor").columns(columns)
                    for index in part {
                        insert.values(
                            SQLBind("c"), SQLBind("m"), SQLBind(Int64(index)), SQLBind("\(tag)-\(index)"), SQLBind("post"),
                            SQLBind(account), SQLBind(account), SQLBind(Int64(50)), SQLBind(Int64(0)), SQLBind("CNY"),
                            SQLBind("wallet_transfer"), SQLLiteral.null, SQLBind("bench"), SQLLiteral.null, SQLLiteral.null,
                            SQLBind(Int64(index)), SQLBind(hash), SQLBind(Int64(1)), SQLBind(Int64(1)), SQLBind(hash), SQLBind(hash),
                            SQLBind(Int64(index)), SQLBind(Int64(index)))
                    }
                    try await insert.run()
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        return seconds(of: elapsed)
    }
}

extension InsertFloor {
    /// The raw-insert floor of rows a run has written: each table's rows read back (not timed) and inserted again with
    /// prepared statements and bound values, `perTransaction` rows per transaction, into a copy of the table without
    /// keys or indexes (`CREATE TABLE … AS SELECT`), which is dropped afterwards. The same method as the floor of the
    /// bills and lines (``BulkWriter``) and of the ledger benchmark. SQLite only.
    public static func reinsert(_ database: Database, tables: [String], perTransaction: Int) async throws -> (rows: Int, seconds: Double) {
        guard let path = database.sqlitePath, perTransaction > 0 else {
            throw StorageError.invalidDatabaseLocation("the floor of written rows is measured on SQLite")
        }
        return try await database.withSQLiteWriteLock {
            try await NIOThreadPool.singleton.runIfActive {
                let raw = try RawSQLite(path: path, cacheKiB: 65_536, checkpointer: database.checkpointer)
                var rows = 0
                var elapsed = Duration.zero
                for table in tables {
                    let copy = "bench_" + table
                    try raw.execute("DROP TABLE IF EXISTS \(copy)")
                    try raw.execute("CREATE TABLE \(copy) AS SELECT * FROM \(table) WHERE 1 = 0")
                    let page = try raw.statement("SELECT rowid, * FROM \(table) WHERE rowid > ?1 ORDER BY rowid LIMIT ?2")
                    let width = page.columnCount - 1
                    let placeholders = (1...width).map { "?\($0)" }.joined(separator: ", ")
                    let insert = try raw.statement("INSERT INTO \(copy) VALUES (\(placeholders))")
                    var last: Int64 = 0
                    while true {
                        var buffer = RowBuffer(width: width, reservingRows: perTransaction)
                        page.bind(1, last)
                        page.bind(2, Int64(perTransaction))
                        while try page.step() {
                            last = page.int64(0)
                            for column in 1...Int32(width) { buffer.append(page.value(column)) }
                        }
                        page.reset()
                        guard buffer.rowCount > 0 else { break }
                        let start = ContinuousClock.now
                        try raw.begin()
                        try BulkWriter.insertAll(buffer, with: insert)
                        try raw.commit()
                        elapsed += ContinuousClock.now - start
                        rows += buffer.rowCount
                    }
                    try raw.execute("DROP TABLE \(copy)")
                }
                raw.checkpointer?.drain()
                return (rows, seconds(of: elapsed))
            }
        }
    }
}
