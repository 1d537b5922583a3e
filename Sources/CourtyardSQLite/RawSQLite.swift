import Foundation
import VaporCSQLite

/// A bare SQLite connection with cached prepared statements: the engine adapter under Storage's fast paths (the ledger's
/// batches, the ingestion writer, bulk writes and reads) and under ordinary SQLite transactions (``InlineSQLiteDatabase``).
///
/// SQLKit pays for `Codable` bridging on every value and a thread-pool hop on
/// every statement; the ledger's group commit instead runs a whole batch as
/// one synchronous job on this handle. Its handle and statements are only
/// used by one owner at a time (for the writers: while holding the database's
/// write lock, inside one thread-pool job).
///
/// This module is the only one that calls SQLite's C interface; everything above it sees this class, its statements
/// and ``StorageValue``.
// @unchecked Sendable: the handle, its statements, `foreignKeys`, `tablesWithForeignKeys` and `logFrames` (written by
// SQLite's WAL hook inside this connection's own `COMMIT`) are used only by the connection's one owner at a time, from
// within a single thread-pool job (the writers take the database's write lock first). `companion` belongs to the layer
// that set it, which states its own rule (the ledger's pipeline touches separate parts of it from two stages, see
// `SQLiteLedgerMemory`). `statementLimit` is set once by the opener, before any job runs.
public final class RawSQLite: @unchecked Sendable {
    /// A failed SQLite call.
    public struct Failure: Error, CustomStringConvertible {
        public var code: Int32
        public var message: String
        /// Whether a UNIQUE, PRIMARY KEY or other constraint refused the statement.
        public var isConstraint: Bool { code & 0xFF == SQLITE_CONSTRAINT }
        public var description: String { "SQLite error \(code): \(message)" }
    }

    private(set) var handle: OpaquePointer?
    /// The database file.
    public let path: String
    private var statements: [String: Statement] = [:]

    /// What a layer above keeps about this connection between its transactions (the ledger's kept account states and
    /// balance rowids, see `SQLiteLedgerMemory` in Storage), under the same one-owner-at-a-time rule as the connection.
    package var companion: AnyObject?
    /// Whether SQLite checks foreign keys on this connection (see ``enforceForeignKeys(_:)``).
    private var foreignKeys = true

    /// The rowid of the last row this connection inserted.
    public var lastInsertRowid: Int64 { sqlite_nio_sqlite3_last_insert_rowid(handle) }

    /// The background checkpointer this connection's commits hand the log to, when it has one.
    public let checkpointer: WALCheckpointer?

    /// Opens `path` with WAL and full sync; `cacheKiB` is the page cache (the ledger's random-key indexes want a large one).
    ///
    /// With a `checkpointer` (one per database file, shared by its writing connections), SQLite's auto-checkpoint is off
    /// on this connection and its commits nudge the checkpointer instead; without one, SQLite copies the log back inside
    /// the commit that grows it past 1,000 pages, as usual.
    ///
    /// `enforceForeignKeys: false` is for the ledger's fast path only: it writes an entry only for accounts it read or
    /// inserted in the same transaction under the write lock, and SQLite's per-row check (an index probe per account
    /// per entry) was about 40% of its write time. Every other connection, and PostgreSQL, still enforces them, and
    /// `ledger verify` reports an entry naming an account that does not exist.
    public init(path: String, cacheKiB: Int = 262_144, checkpointer: WALCheckpointer? = nil, enforceForeignKeys: Bool = true) throws {
        self.path = path
        self.checkpointer = checkpointer
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite_nio_sqlite3_close_v2(handle)
            throw Failure(code: result, message: message)
        }
        try execute("PRAGMA page_size = \(Self.pageSize)")
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute("PRAGMA foreign_keys = \(enforceForeignKeys ? "ON" : "OFF")")
        foreignKeys = enforceForeignKeys
        try execute("PRAGMA busy_timeout = \(Self.busyTimeoutMilliseconds)")
        // The journal's indexes take random keys (account and transfer ids); a large page cache keeps them in memory.
        try execute("PRAGMA cache_size = -\(cacheKiB)")
        if checkpointer != nil {
            try execute("PRAGMA wal_autocheckpoint = 0")
            // After the pragma, which installs a hook of its own: counts the log's frames after each commit.
            sqlite_nio_sqlite3_wal_hook(
                handle,
                { context, _, _, frames in
                    Unmanaged<RawSQLite>.fromOpaque(context!).takeUnretainedValue().logFrames = frames
                    return SQLITE_OK
                }, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    /// The page size of new databases (SQLite's default is 4 KiB). Larger pages mean fewer log frames, checkpoint
    /// copies and b-tree pages for the same rows: the ledger's group commit writes tens of megabytes per transaction.
    public static let pageSize = 16_384

    /// Frames in the write-ahead log after this connection's last commit (set by SQLite's WAL hook inside `COMMIT`,
    /// so only on the thread using the connection).
    private var logFrames: Int32 = 0

    /// A log this long (in pages) is copied back by the background checkpointer after the commit that grew it: SQLite's
    /// own auto-checkpoint threshold, which the SQLKit connections keep, so their commits seldom find frames left to
    /// copy inline (a commit that does copies them while holding the database's write lock).
    package static let checkpointFrames: Int32 = 1_000
    /// A log this long is copied back completely before the next write transaction, so that SQLite starts it over
    /// (256 MiB at 16 KiB pages); below it, the writer never waits for a checkpoint.
    package static let restartFrames: Int32 = 16_384

    /// Begins a write transaction (`BEGIN IMMEDIATE`); first, if the log has grown past ``restartFrames``, waits for it
    /// to be copied back, so this transaction writes from the start of the log instead of growing it further.
    ///
    /// `begin(waitingForDisk: false)` commits this one transaction without syncing the log (`synchronous = NORMAL`, which
    /// SQLite only lets a connection change between transactions): the commit is atomic and seen at once, survives the
    /// process being killed (its frames are in the operating system's cache), and reaches the disk with the next
    /// durable commit's sync of the same log or the next checkpoint. Only for state whose loss in a power failure is
    /// repaired by doing the work again (see `Database.CommitDurability`).
    public func begin() throws { try begin(waitingForDisk: true) }

    /// Begins a write transaction; see ``begin()``, and below for `waitingForDisk`.
    public func begin(waitingForDisk: Bool) throws {
        if let checkpointer, logFrames >= Self.restartFrames {
            checkpointer.checkpointNow()
            logFrames = 0
        }
        try beginImmediate(waitingForDisk: waitingForDisk)
    }

    /// Begins a write transaction as ``begin(waitingForDisk:)`` does, but only if that takes no waiting: no checkpoint
    /// is due and no other connection holds the write lock (`BEGIN IMMEDIATE` with a zero busy timeout). Returns
    /// `false`, with nothing begun, when it would have waited; the caller then calls ``begin(waitingForDisk:)`` where
    /// blocking is allowed (a thread pool). Lets a caller on the cooperative pool skip the two thread switches of an
    /// offloaded `BEGIN` in the common case.
    public func beginIfImmediate(waitingForDisk: Bool) throws -> Bool {
        if checkpointer != nil, logFrames >= Self.restartFrames { return false }
        sqlite_nio_sqlite3_busy_timeout(handle, 0)
        defer { sqlite_nio_sqlite3_busy_timeout(handle, Self.busyTimeoutMilliseconds) }
        do {
            try beginImmediate(waitingForDisk: waitingForDisk)
            return true
        } catch let failure as Failure where failure.code & 0xFF == SQLITE_BUSY {
            return false
        }
    }

    /// `BEGIN IMMEDIATE`, relaxing durability for this transaction first if asked; on failure the connection is left
    /// durable again.
    private func beginImmediate(waitingForDisk: Bool) throws {
        if !waitingForDisk {
            try execute("PRAGMA synchronous = NORMAL")
            relaxed = true
        }
        do {
            try execute("BEGIN IMMEDIATE")
        } catch {
            try? restoreDurability()
            throw error
        }
    }

    /// How long a statement waits for another connection's lock before failing with `SQLITE_BUSY`.
    static let busyTimeoutMilliseconds: Int32 = 5_000

    /// Commits the open transaction, then lets the background checkpointer copy the log (if this connection has one
    /// and the log has grown past ``checkpointFrames``).
    public func commit() throws {
        defer { try? restoreDurability() }
        try execute("COMMIT")
        if logFrames >= Self.checkpointFrames { checkpointer?.nudge() }
    }

    /// Rolls the open transaction back (if any is open) and puts the connection back to durable commits.
    public func rollback() {
        if sqlite_nio_sqlite3_get_autocommit(handle) == 0 { try? execute("ROLLBACK") }
        try? restoreDurability()
    }

    /// Whether the open transaction was begun with `waitingForDisk: false`.
    private var relaxed = false

    private func restoreDurability() throws {
        guard relaxed else { return }
        try execute("PRAGMA synchronous = FULL")
        relaxed = false
    }

    deinit {
        if checkpointer != nil { sqlite_nio_sqlite3_wal_hook(handle, nil, nil) }
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.pointer) }
        sqlite_nio_sqlite3_close_v2(handle)
    }

    /// Turns SQLite's foreign-key checks on or off for the following transactions (not inside one, where SQLite ignores
    /// the pragma); a no-op when they already are. See each caller for why its writes cannot break a reference.
    public func enforceForeignKeys(_ enforce: Bool) throws {
        guard enforce != foreignKeys else { return }
        try execute("PRAGMA foreign_keys = \(enforce ? "ON" : "OFF")")
        foreignKeys = enforce
    }

    /// Whether `table` declares foreign keys (asked of the schema once per table and connection).
    package func declaresForeignKeys(_ table: String) throws -> Bool {
        if let known = tablesWithForeignKeys[table] { return known }
        let query = try statement("SELECT 1 FROM pragma_foreign_key_list(?1)")
        query.bind(1, table)
        let declares = try query.step()
        query.reset()
        tablesWithForeignKeys[table] = declares
        return declares
    }

    private var tablesWithForeignKeys: [String: Bool] = [:]

    /// Before a transaction that writes rows of `tables` on a connection that otherwise leaves foreign keys unchecked (the
    /// ledger's): checks them for that transaction when any of the tables declares one. Call `enforceForeignKeys(false)` after.
    package func checkReferences(writing tables: [String]) throws {
        try enforceForeignKeys(try tables.contains { try declaresForeignKeys($0) })
    }

    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let result = sqlite_nio_sqlite3_exec(handle, sql, nil, nil, &error)
        if result != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "error"
            sqlite_nio_sqlite3_free(error)
            throw Failure(code: result, message: message)
        }
    }

    /// At most this many prepared statements are kept; past it they are all finalized and prepared again as used. Only
    /// for a connection whose callers hold one statement at a time (``InlineSQLiteDatabase``, whose SQL text varies
    /// with the length of `IN` lists and multi-row inserts); the hot paths keep a fixed set and hold several at once.
    package var statementLimit: Int?

    /// The cached prepared statement for `sql`, reset and with its bindings cleared.
    public func statement(_ sql: String) throws -> Statement {
        if let cached = statements[sql] {
            sqlite_nio_sqlite3_reset(cached.pointer)
            sqlite_nio_sqlite3_clear_bindings(cached.pointer)
            return cached
        }
        if let statementLimit, statements.count >= statementLimit {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.pointer) }
            statements.removeAll(keepingCapacity: true)
        }
        var pointer: OpaquePointer?
        let result = sqlite_nio_sqlite3_prepare_v2(handle, sql, -1, &pointer, nil)
        guard result == SQLITE_OK, let pointer else { throw failure(result) }
        let statement = Statement(pointer: pointer, connection: self)
        statements[sql] = statement
        return statement
    }

    package func failure(_ code: Int32) -> Failure {
        Failure(code: code, message: handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "error")
    }

    /// One prepared statement. Parameters are numbered from 1, columns from 0.
    public struct Statement {
        package let pointer: OpaquePointer
        unowned let connection: RawSQLite

        static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

        /// The number of columns a row of this statement has.
        package var columnCount: Int { Int(sqlite_nio_sqlite3_column_count(pointer)) }

        public func bind(_ index: Int32, _ value: Int64) { sqlite_nio_sqlite3_bind_int64(pointer, index, value) }
        public func bind(_ index: Int32, _ value: String) {
            // Through the string's own UTF-8 (no C-string copy; SQLite copies the bytes, `transient`).
            var value = value
            value.withUTF8 { utf8 in
                utf8.withMemoryRebound(to: CChar.self) { text in
                    if let start = text.baseAddress {
                        _ = sqlite_nio_sqlite3_bind_text(pointer, index, start, Int32(text.count), Self.transient)
                    } else {
                        // An empty string has no storage to point at; a null pointer would bind NULL, not ''.
                        _ = sqlite_nio_sqlite3_bind_text(pointer, index, "", 0, Self.transient)
                    }
                }
            }
        }
        /// Binds `count` bytes at `start` as text without copying them (`SQLITE_STATIC`): the caller keeps the bytes alive
        /// and unchanged until the statement is reset or rebound.
        public func bindText(_ index: Int32, borrowing start: UnsafePointer<UInt8>, count: Int32) {
            start.withMemoryRebound(to: CChar.self, capacity: Int(count)) { text in
                _ = sqlite_nio_sqlite3_bind_text(pointer, index, text, count, nil)
            }
        }
        public func bind(_ index: Int32, _ value: String?) {
            if let value { bind(index, value) } else { sqlite_nio_sqlite3_bind_null(pointer, index) }
        }
        public func bind(_ index: Int32, _ value: Int64?) {
            if let value { bind(index, value) } else { sqlite_nio_sqlite3_bind_null(pointer, index) }
        }

        /// Steps once: `true` when a row is ready, `false` when done.
        public func step() throws -> Bool {
            let result = sqlite_nio_sqlite3_step(pointer)
            if result == SQLITE_ROW { return true }
            if result == SQLITE_DONE { return false }
            throw connection.failure(result)
        }

        /// Runs a statement that returns no rows.
        public func run() throws {
            while try step() {}
        }

        /// Makes the statement ready to run again (bindings are overwritten by the next use).
        public func reset() { sqlite_nio_sqlite3_reset(pointer) }

        /// Drops every binding (after text bound in place, so nothing points at bytes about to be freed).
        public func clearBindings() { sqlite_nio_sqlite3_clear_bindings(pointer) }

        public func int64(_ column: Int32) -> Int64 { sqlite_nio_sqlite3_column_int64(pointer, column) }
        public func isNull(_ column: Int32) -> Bool { sqlite_nio_sqlite3_column_type(pointer, column) == SQLITE_NULL }
        public func string(_ column: Int32) -> String { Self.string(of: pointer, at: column) }

        /// The text of `column` of the row `statement` is positioned on.
        package static func string(of statement: OpaquePointer, at column: Int32) -> String {
            // By length, not by terminator: no strlen, and the bytes are copied once (repaired if not UTF-8).
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return "" }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        }
        /// The column as SQLite stores it: text, integer or NULL (a real or blob, which Courtyard never stores, reads as its
        /// text form).
        public func value(_ column: Int32) -> StorageValue { Self.value(of: pointer, at: column) }

        /// The value of `column` of the row `statement` is positioned on: text, integer or NULL as stored.
        package static func value(of statement: OpaquePointer, at column: Int32) -> StorageValue {
            switch sqlite_nio_sqlite3_column_type(statement, column) {
            case SQLITE_NULL: return .null
            case SQLITE_INTEGER: return .integer(sqlite_nio_sqlite3_column_int64(statement, column))
            default: return .text(string(of: statement, at: column))
            }
        }
        public func optionalString(_ column: Int32) -> String? { isNull(column) ? nil : string(column) }
        public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
    }
}
