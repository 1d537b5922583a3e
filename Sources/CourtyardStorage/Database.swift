import CourtyardSQLite
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO

/// A Courtyard database: the embedded SQLite file or a PostgreSQL server, behind one interface.
///
/// Everything above the storage layer talks to a `Database` through
/// ``read(_:)`` and ``transaction(_:)`` and writes SQL through SQLKit, so the
/// same repositories run on both engines. SQLite uses one writer connection and
/// one reader connection (WAL lets the reader see the last commit while a
/// write is in progress); PostgreSQL uses a `PostgresClient` pool.
public final class Database: Sendable {
    /// Which engine backs this database.
    public enum Engine: String, Sendable, CustomStringConvertible {
        case sqlite
        case postgres
        public var description: String { rawValue }
    }

    /// Where a database lives, parsed from a `--database` value.
    public enum Location: Sendable, Equatable {
        /// A SQLite file (created if missing).
        case sqliteFile(path: String)
        /// A PostgreSQL server.
        case postgres(host: String, port: Int, username: String, password: String?, database: String?)

        /// Reads a file path or a `postgres://user:pass@host:port/db` URL.
        public init(parsing text: String) throws(StorageError) {
            if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
                guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty,
                    let user = components.user, !user.isEmpty
                else {
                    throw .invalidDatabaseLocation(text)
                }
                let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
                self = .postgres(
                    host: host, port: components.port ?? 5432, username: user,
                    password: components.password, database: database.isEmpty ? nil : database)
            } else {
                guard !text.isEmpty, !text.contains("://") else { throw .invalidDatabaseLocation(text) }
                self = .sqliteFile(path: text)
            }
        }

        /// The location with any password removed, for logs.
        public var redacted: String {
            switch self {
            case .sqliteFile(let path): return path
            case .postgres(let host, let port, let username, _, let database):
                return "postgres://\(username)@\(host):\(port)/\(database ?? "")"
            }
        }
    }

    private enum Backend: Sendable {
        /// `writer` is sqlite-kit's connection for writes (its dialect and event loop serve ``InlineSQLiteDatabase``,
        /// which runs transactions' statements on `inline`).
        case sqlite(writer: SQLiteConnection, inline: RawSQLite, reader: SQLiteConnection, writeLock: AsyncLock, readLock: AsyncLock)
        case postgres(client: PostgresClient, runner: Task<Void, Never>)
    }

    /// The engine in use.
    public let engine: Engine
    /// Where it is, without secrets.
    public let redactedLocation: String
    /// The SQLite file, when the engine is SQLite.
    public let sqlitePath: String?
    /// Which engine fast paths the writers and readers over this database take (all, unless opened otherwise).
    public let fastPaths: FastPaths
    private let backend: Backend
    let logger: Logger
    /// The SQLite file's one background checkpointer, shared by every writing connection (its commits nudge it).
    package let checkpointer: WALCheckpointer?

    private init(
        engine: Engine, redactedLocation: String, backend: Backend, logger: Logger, sqlitePath: String? = nil,
        fastPaths: FastPaths, checkpointer: WALCheckpointer? = nil
    ) {
        self.fastPaths = fastPaths
        self.checkpointer = checkpointer
        self.engine = engine
        self.redactedLocation = redactedLocation
        self.sqlitePath = sqlitePath
        self.backend = backend
        self.logger = logger
    }

    /// Opens the database at `location`. Call ``close()`` when done.
    public static func open(
        _ location: Location, logger: Logger = Logger(label: "courtyard.storage"),
        fastPaths: FastPaths = .all
    ) async throws -> Database {
        switch location {
        case .sqliteFile(let path):
            let writer = try await openSQLite(path: path, logger: logger)
            let reader = try await openSQLite(path: path, logger: logger)
            // After sqlite-kit's connection set the file's page size and WAL mode. Auto-checkpoint is off on it: its
            // commits hand the log to a background checkpointer instead of copying it while holding the write lock.
            let checkpointer = WALCheckpointer(path: path)
            let inline = try RawSQLite(path: path, cacheKiB: 65_536, checkpointer: checkpointer, enforceForeignKeys: true)
            inline.statementLimit = 1_000
            let database = Database(
                engine: .sqlite, redactedLocation: location.redacted,
                backend: .sqlite(writer: writer, inline: inline, reader: reader, writeLock: AsyncLock(), readLock: AsyncLock()),
                logger: logger, sqlitePath: path, fastPaths: fastPaths, checkpointer: checkpointer)
            do {
                try await database.registerAccountIdSchemes()
            } catch {
                await database.close()
                throw error
            }
            return database
        case .postgres(let host, let port, let username, let password, let database):
            var configuration = PostgresClient.Configuration(
                host: host, port: port, username: username,
                password: password, database: database, tls: .disable)
            configuration.options.maximumConnections = 8
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            let runner = Task { await client.run() }
            let database = Database(
                engine: .postgres, redactedLocation: location.redacted,
                backend: .postgres(client: client, runner: runner), logger: logger, fastPaths: fastPaths)
            // Fail fast on a wrong URL rather than on the first request (the registry's read is the first query).
            do {
                try await database.registerAccountIdSchemes()
            } catch {
                runner.cancel()
                throw error
            }
            return database
        }
    }

    /// Opens a `--database` value: a SQLite path or a PostgreSQL URL.
    public static func open(
        _ text: String, logger: Logger = Logger(label: "courtyard.storage"),
        fastPaths: FastPaths = .all
    ) async throws -> Database {
        try await open(Location(parsing: text), logger: logger, fastPaths: fastPaths)
    }

    private static func openSQLite(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger).get()
        let sql = connection.sql()
        // WAL for concurrent readers; FULL sync so an acknowledged commit survives power loss;
        // foreign keys are off by default in SQLite and must be switched on per connection.
        // Before anything writes the file's header: the page size of a new database (an existing one keeps its own).
        try await sql.raw("PRAGMA page_size = \(unsafeRaw: String(RawSQLite.pageSize))").run()
        try await sql.raw("PRAGMA journal_mode = WAL").run()
        try await sql.raw("PRAGMA synchronous = FULL").run()
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        try await sql.raw("PRAGMA busy_timeout = 5000").run()
        // 64 MiB of page cache (the default is 2 MiB): the hot indexes of readings, charges and the journal stay in memory.
        try await sql.raw("PRAGMA cache_size = -65536").run()
        return connection
    }

    /// The PostgreSQL connection pool, for readers that use PostgresNIO directly; `nil` on SQLite.
    var postgresClient: PostgresClient? {
        guard case .postgres(let client, _) = backend else { return nil }
        return client
    }

    /// Runs read-only work on a connection that sees the last committed state.
    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            switch backend {
            case .sqlite(_, _, let reader, _, let readLock):
                return try await readLock.withLock { try await body(reader.sql()) }
            case .postgres(let client, _):
                return try await client.withConnection { connection in
                    try await body(connection.sql(queryLogLevel: .trace))
                }
            }
        } catch {
            throw StorageError.classify(error) ?? error
        }
    }

    /// When a transaction's commit returns.
    public enum CommitDurability: Sendable {
        /// On the disk: the commit waits for the log's sync. Everything acknowledged to anyone outside is committed so.
        case onDisk
        /// Atomic and visible at once, and safe when the process is killed, but on the disk only with the next durable
        /// commit or checkpoint (SQLite: the log unsynced for this commit; PostgreSQL: `synchronous_commit = off`, within
        /// three WAL-writer delays). Only for bookkeeping whose loss in a power failure is repaired by doing the work
        /// again, such as a command marked sent (it is sent once more, and commands are idempotent by id). A durable
        /// transaction never waits behind this one's sync, which is the point: the command dispatcher's marks no
        /// longer hold SQLite's single writer for a sync between two payment callbacks.
        case deferred
    }

    /// Runs `body` in one transaction: all of its writes commit together, or none do.
    ///
    /// The transaction commits only if `body` returns; any thrown error rolls it back.
    public func transaction<T: Sendable>(
        durability: CommitDurability = .onDisk, _ body: @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        do {
            switch backend {
            case .sqlite(let writer, let inline, _, let writeLock, _):
                return try await writeLock.withLock {
                    let sql = InlineSQLiteDatabase(connection: inline, base: writer.sql())
                    // IMMEDIATE takes the write lock at BEGIN, so two writers never deadlock on upgrade. BEGIN runs inline
                    // when it can start at once, and on the thread pool when it must wait (for a long log to be copied
                    // back, or for another connection's write); COMMIT (which waits for the disk) runs on the thread pool;
                    // the statements between run inline (see InlineSQLiteDatabase).
                    if try !inline.beginIfImmediate(waitingForDisk: durability == .onDisk) {
                        try await NIOThreadPool.singleton.runIfActive { try inline.begin(waitingForDisk: durability == .onDisk) }
                    }
                    do {
                        let result = try await body(sql)
                        try await NIOThreadPool.singleton.runIfActive { try inline.commit() }
                        return result
                    } catch {
                        inline.rollback()
                        throw error
                    }
                }
            case .postgres(let client, _):
                // A deadlock victim (40P01) or a serialization failure (40001) was rolled back whole: PostgreSQL asks the
                // application to run it again. The crash test found one: an Alipay notification answered 500 after
                // PostgreSQL chose its transaction as the victim of a deadlock on a ledger chain head.
                var attempt = 0
                while true {
                    attempt += 1
                    do {
                        return try await client.withTransaction(logger: logger) { connection in
                            let sql = connection.sql(queryLogLevel: .trace)
                            if durability == .deferred { try await sql.raw("SET LOCAL synchronous_commit TO OFF").run() }
                            return try await body(sql)
                        }
                    } catch let error as PostgresTransactionError {
                        guard attempt < Self.conflictAttempts, let state = Self.conflict(error) else { throw error }
                        Instruments.transactionConflict(sqlState: state)
                        logger.notice("transaction conflict; running it again", metadata: ["attempt": "\(attempt)", "sqlstate": "\(state)"])
                        try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
                    }
                }
            }
        } catch let error as PostgresTransactionError {
            let inner = error.closureError ?? error.beginError ?? error.commitError ?? error
            throw StorageError.classify(inner) ?? inner
        } catch {
            throw StorageError.classify(error) ?? error
        }
    }

    /// How often a PostgreSQL transaction that lost a deadlock or a serialization check is run in all.
    static let conflictAttempts = 4

    /// The SQLSTATE when PostgreSQL rolled the transaction back for a deadlock (40P01) or a serialization failure
    /// (40001); nil for any other error.
    static func conflict(_ error: PostgresTransactionError) -> String? {
        let inner = error.closureError ?? error.beginError ?? error.commitError
        guard let psql = inner as? PSQLError, let state = psql.serverInfo?[.sqlState] else { return nil }
        return state == "40P01" || state == "40001" ? state : nil
    }

    /// Runs `body` in one PostgreSQL transaction with the raw connection, for `COPY … FROM STDIN` bulk loads. Only for PostgreSQL.
    func withPostgresTransaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        guard case .postgres(let client, _) = backend else {
            preconditionFailure("withPostgresTransaction is only for PostgreSQL databases")
        }
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            let inner = error.closureError ?? error.beginError ?? error.commitError ?? error
            throw StorageError.classify(inner) ?? inner
        } catch {
            throw StorageError.classify(error) ?? error
        }
    }

    /// Runs `body` while holding the SQLite write lock, so a second connection (the ledger's fast path) can write
    /// without racing this database's own transactions. Only for SQLite.
    public func withSQLiteWriteLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        guard case .sqlite(_, _, _, let writeLock, _) = backend else {
            preconditionFailure("withSQLiteWriteLock is only for SQLite databases")
        }
        return try await writeLock.withLock(body)
    }

    /// Opens a connection for a writer's fast path (SQLite only; ``StorageError/noFastPath(engine:)`` on PostgreSQL): its commits hand the log to the
    /// database's checkpointer. The caller owns it, and uses it only while holding ``withSQLiteWriteLock(_:)``.
    public func openFastConnection(cacheKiB: Int = 65_536) throws -> any FastConnection {
        guard let sqlitePath else { throw StorageError.noFastPath(engine: engine.rawValue) }
        return try RawSQLite(path: sqlitePath, cacheKiB: cacheKiB, checkpointer: checkpointer)
    }

    /// Waits for a running WAL checkpoint, then copies what is left of the log back (SQLite; nothing on PostgreSQL).
    /// The server runs it last on shutdown, after the writers have finished, so the file it leaves is whole.
    public func finishCheckpoints() async {
        guard let checkpointer else { return }
        // Off the cooperative threads: a checkpoint copies pages and syncs the file.
        try? await NIOThreadPool.singleton.runIfActive {
            checkpointer.drain()
            checkpointer.checkpointNow()
        }
    }

    /// Closes connections and stops the pool.
    public func close() async {
        switch backend {
        case .sqlite(let writer, _, let reader, _, _):
            try? await writer.close().get()
            try? await reader.close().get()
        case .postgres(_, let runner):
            runner.cancel()
            _ = await runner.value
        }
    }
}
