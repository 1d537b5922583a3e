import CourtyardStorage
import CourtyardTestSupport
import SQLKit
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("migrating twice applies everything once and then nothing", arguments: TestEngine.available)
    func migrateIsIdempotent(engine: TestEngine) async throws {
        try await engine.withDatabase(migrated: false) { database in
            let first = try await Migrator().migrate(database)
            #expect(first.applied == Schema.migrations.map(\.version))
            let second = try await Migrator().migrate(database)
            #expect(second.applied.isEmpty)
            #expect(second.currentVersion == first.currentVersion)
        }
    }

    @Test("a database migrated by a newer binary is refused and left unchanged", arguments: TestEngine.available)
    func newerSchemaIsRefused(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            try await database.transaction { db in
                try await db.insert(into: "schema_migrations").columns("version", "name", "checksum", "applied_at")
                    .values(SQLBind(999), SQLBind("from the future"), SQLBind("x"), SQLBind(Int64(0))).run()
            }
            await #expect(throws: StorageError.schemaTooNew(databaseVersion: 999, binaryVersion: Migrator().latestVersion)) {
                try await Migrator().migrate(database)
            }
            #expect(try await Migrator().currentVersion(database) == 999)
        }
    }

    @Test("an applied migration whose text changed is refused", arguments: TestEngine.available)
    func editedMigrationIsRefused(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let edited = Schema.migrations.map { migration in
                Migration(version: migration.version, name: migration.name, statements: migration.statements + ["SELECT 1"])
            }
            await #expect(throws: StorageError.migrationChanged(version: 1)) {
                try await Migrator(migrations: edited).migrate(database)
            }
        }
    }

    @Test("a failed migration leaves no partial schema behind", arguments: TestEngine.available)
    func failedMigrationRollsBack(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let next = Migrator().latestVersion + 1
            let broken =
                Schema.migrations + [
                    Migration(
                        version: next, name: "broken",
                        statements: [
                            "CREATE TABLE half_done (id TEXT PRIMARY KEY)",
                            "THIS IS NOT SQL",
                        ])
                ]
            await #expect(throws: (any Error).self) { try await Migrator(migrations: broken).migrate(database) }
            #expect(try await Migrator().currentVersion(database) == next - 1)
            let report = try await Migrator(
                migrations: Schema.migrations + [
                    Migration(version: next, name: "fixed", statements: ["CREATE TABLE half_done (id TEXT PRIMARY KEY)"])
                ]
            ).migrate(database)
            #expect(report.applied == [next])
        }
    }

    @Test("database locations parse as SQLite paths or PostgreSQL URLs")
    func locations() throws {
        #expect(try Database.Location(parsing: "./demo.sqlite") == .sqliteFile(path: "./demo.sqlite"))
        #expect(
            try Database.Location(parsing: "postgres://u:secret@127.0.0.1:5433/courtyard")
                == .postgres(host: "127.0.0.1", port: 5433, username: "u", password: "secret", database: "courtyard"))
        #expect(try Database.Location(parsing: "postgres://u:secret@db/x").redacted == "postgres://u@db:5432/x")
        #expect(throws: StorageError.self) { try Database.Location(parsing: "mysql://x") }
        #expect(throws: StorageError.self) { try Database.Location(parsing: "postgres:///nohost") }
        #expect(throws: StorageError.self) { try Database.Location(parsing: "") }
    }
}
