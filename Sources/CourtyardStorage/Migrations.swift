import Crypto
import Foundation
import SQLKit

/// One versioned change to the schema, written so that it runs unchanged on SQLite and PostgreSQL.
///
/// Migrations are append-only: once released, a migration's text never
/// changes (the runner stores a checksum and refuses a database whose applied
/// migration differs from the binary's). Column types are limited to
/// `TEXT`, `BIGINT` and `INTEGER`, which mean the same on both engines;
/// instants are epoch milliseconds, calendar dates `YYYY-MM-DD` text, ids
/// UUIDv7 text.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }

    /// SHA-256 over the statements, stored when the migration is applied.
    public var checksum: String {
        let digest = SHA256.hash(data: Data(statements.joined(separator: ";\n").utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// What ``Migrator/migrate(_:)`` did.
public struct MigrationReport: Sendable, Equatable {
    /// Versions applied by this run, in order (empty when the schema was current).
    public var applied: [Int]
    /// The schema version after the run.
    public var currentVersion: Int
}

/// Applies Courtyard's migrations to a database, each in its own transaction.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    /// A migrator for the binary's own schema.
    public init(migrations: [Migration] = Schema.migrations) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// The newest version this binary knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the schema up to ``latestVersion``; running it again changes nothing.
    ///
    /// - Throws: ``StorageError/schemaTooNew(databaseVersion:binaryVersion:)`` when the
    ///   database was migrated by a newer Courtyard, and
    ///   ``StorageError/migrationChanged(version:)`` when an applied migration was edited.
    @discardableResult
    public func migrate(_ database: Database) async throws -> MigrationReport {
        try await database.transaction { db in
            try await db.raw(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """
            ).run()
        }
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await database.transaction { [migrations] db in
                if database.engine == .postgres {
                    // Two `courtyard migrate` at once: the second waits, then sees the work done.
                    try await db.raw("SELECT pg_advisory_xact_lock(727100)").run()
                }
                let rows = try await db.raw("SELECT version, checksum FROM schema_migrations ORDER BY version").all()
                var existing: [Int: String] = [:]
                for row in rows {
                    existing[try row.decode(column: "version", as: Int.self)] = try row.decode(column: "checksum", as: String.self)
                }
                if let newest = existing.keys.max(), newest > (migrations.last?.version ?? 0) {
                    throw StorageError.schemaTooNew(databaseVersion: newest, binaryVersion: migrations.last?.version ?? 0)
                }
                if let checksum = existing[migration.version] {
                    guard checksum == migration.checksum else { throw StorageError.migrationChanged(version: migration.version) }
                    return false
                }
                for statement in migration.statements {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.insert(into: "schema_migrations")
                    .columns("version", "name", "checksum", "applied_at")
                    .values(
                        SQLBind(migration.version), SQLBind(migration.name), SQLBind(migration.checksum),
                        SQLBind(Int64(Date().timeIntervalSince1970 * 1000))
                    )
                    .run()
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        if migrations.isEmpty {
            try await checkNotNewer(database)
        }
        try await database.registerAccountIdSchemes()
        return MigrationReport(applied: applied, currentVersion: try await currentVersion(database))
    }

    /// The highest applied version, 0 for an empty database.
    public func currentVersion(_ database: Database) async throws -> Int {
        try await database.read { db in
            let row = try await db.raw("SELECT MAX(version) AS version FROM schema_migrations").first()
            return try row?.decodeNil(column: "version") == false ? try row!.decode(column: "version", as: Int.self) : 0
        }
    }

    private func checkNotNewer(_ database: Database) async throws {
        let version = try await currentVersion(database)
        if version > latestVersion {
            throw StorageError.schemaTooNew(databaseVersion: version, binaryVersion: latestVersion)
        }
    }
}
