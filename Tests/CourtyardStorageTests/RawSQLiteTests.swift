import CourtyardSQLite
import Foundation
import Testing

@testable import CourtyardStorage

/// The bare SQLite connection of the hot write paths (ledger, ingestion, bulk bill writes).
@Suite("Raw SQLite connection")
struct RawSQLiteTests {
    /// A scratch folder holding one database file, removed by `body`'s caller.
    static func withScratchDatabase(_ body: (String) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("courtyard-raw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try body(folder.appendingPathComponent("raw.sqlite").path)
    }

    static func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    }

    @Test("an immediate begin starts at once when the write lock is free, and declines without waiting when it is not")
    func immediateBeginDeclinesInsteadOfWaiting() throws {
        try Self.withScratchDatabase { path in
            let first = try RawSQLite(path: path, cacheKiB: 1_024)
            try first.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            let second = try RawSQLite(path: path, cacheKiB: 1_024)
            #expect(try first.beginIfImmediate(waitingForDisk: true))
            try first.execute("INSERT INTO t (id) VALUES (1)")
            let start = ContinuousClock.now
            #expect(try !second.beginIfImmediate(waitingForDisk: false), "the other connection holds the write lock")
            #expect(ContinuousClock.now - start < .seconds(4), "declined rather than waited out the 5 s busy timeout")
            try first.commit()
            #expect(try second.beginIfImmediate(waitingForDisk: true))
            try second.execute("INSERT INTO t (id) VALUES (2)")
            try second.commit()
            // The declined attempt left the connection durable and its busy timeout in place: a plain begin waits again.
            #expect(try second.scalarSynchronous() == 2, "synchronous = FULL after a declined deferred begin")
        }
    }

    @Test("a log grown past the threshold is copied back into the database file by the background checkpointer")
    func backgroundCheckpointCopiesTheLog() throws {
        try Self.withScratchDatabase { path in
            let raw = try RawSQLite(path: path, cacheKiB: 8_192, checkpointer: WALCheckpointer(path: path))
            try raw.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            // One commit of about twice `checkpointFrames` pages of rows.
            let body = String(repeating: "x", count: 4_000)
            let rows = 2 * Int(RawSQLite.checkpointFrames) * RawSQLite.pageSize / body.utf8.count
            try raw.begin()
            let insert = try raw.statement("INSERT INTO filler (body) VALUES (?1)")
            for _ in 0..<rows {
                insert.bind(1, body)
                try insert.run()
                insert.reset()
            }
            try raw.commit()
            raw.checkpointer?.drain()
            // The rows are in the database file itself, not only in the log (a checkpoint connection that had not read
            // the file once did not know it was in WAL mode and copied nothing, leaving the file at a page or two).
            #expect(try Self.fileSize(path) >= rows * body.utf8.count / 2)
        }
    }

    @Test("a backup copies every committed row, leaves an open transaction's out, and never overwrites a file")
    func backupIsACommittedSnapshot() throws {
        try Self.withScratchDatabase { path in
            let raw = try RawSQLite(path: path)
            try raw.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            try raw.begin()
            for n in 0..<1_000 { try raw.execute("INSERT INTO t (n, v) VALUES (\(n), 'row \(n) 电表')") }
            try raw.commit()
            // Another connection has a write in flight: not committed, so not in the copy.
            let writer = try RawSQLite(path: path)
            try writer.begin()
            try writer.execute("INSERT INTO t (n, v) VALUES (5000, 'uncommitted')")
            let copy = path + ".backup"
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }
            try RawSQLite(path: path).backup(to: copy)
            try writer.execute("ROLLBACK")
            let restored = try RawSQLite(path: copy)
            let query = try restored.statement("SELECT COUNT(*), SUM(n), MAX(v) FROM t")
            #expect(try query.step())
            #expect(query.int64(0) == 1_000)
            #expect(query.int64(1) == 499_500)
            #expect(query.string(2) == "row 999 电表")
            query.reset()
            #expect(throws: RawSQLite.Failure.self) { try RawSQLite(path: path).backup(to: copy) }
        }
    }

    @Test("new databases get the raw connection's page size")
    func newDatabasesUseTheLargePages() throws {
        try Self.withScratchDatabase { path in
            let raw = try RawSQLite(path: path)
            try raw.execute("CREATE TABLE t (v TEXT)")
            let query = try raw.statement("PRAGMA page_size")
            #expect(try query.step())
            #expect(query.int64(0) == Int64(RawSQLite.pageSize))
            query.reset()
        }
    }

    @Test("text is bound exactly, and an empty string as empty text rather than NULL")
    func textBindsExactly() throws {
        try Self.withScratchDatabase { path in
            let raw = try RawSQLite(path: path)
            try raw.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            let values = ["", "a", "小区 № 7 — 电表", String(repeating: "é", count: 300), "with\u{0}nul"]
            let insert = try raw.statement("INSERT INTO t (n, v) VALUES (?1, ?2)")
            for (index, value) in values.enumerated() {
                insert.bind(1, Int64(index))
                insert.bind(2, value)
                try insert.run()
                insert.reset()
            }
            let query = try raw.statement("SELECT v IS NULL, length(CAST(v AS BLOB)) FROM t ORDER BY n")
            for value in values {
                #expect(try query.step())
                #expect(query.int64(0) == 0)
                #expect(query.int64(1) == Int64(value.utf8.count))
            }
            query.reset()
        }
    }
}

extension RawSQLite {
    /// `PRAGMA synchronous` (0 off, 1 normal, 2 full).
    fileprivate func scalarSynchronous() throws -> Int64 {
        let statement = try statement("PRAGMA synchronous")
        defer { statement.reset() }
        guard try statement.step() else { return -1 }
        return statement.int64(0)
    }
}
