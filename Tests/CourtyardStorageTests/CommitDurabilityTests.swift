import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

@testable import CourtyardStorage

/// `Database.transaction(durability:)`: a deferred commit skips the log's sync for itself only.
@Suite("Commit durability")
struct CommitDurabilityTests {
    /// What the open transaction's commit will wait for, as the engine reports it: SQLite's `synchronous` level
    /// (2 = FULL, 1 = NORMAL) or PostgreSQL's `synchronous_commit`.
    static func syncSetting(_ db: any SQLDatabase, engine: Database.Engine) async throws -> String {
        switch engine {
        case .sqlite:
            // A fresh statement each time: SQLite compiles a pragma's current value into the statement, and transactions
            // keep their statements prepared by text.
            let level = try await db.raw(SQLQueryString("PRAGMA synchronous -- \(UUID().uuidString)")).first()?.decode(
                column: "synchronous", as: Int.self)
            return level.map(String.init) ?? "?"
        case .postgres:
            return try await db.raw("SHOW synchronous_commit").first()?.decode(column: "synchronous_commit", as: String.self) ?? "?"
        }
    }

    @Test(
        "a deferred transaction commits without waiting for the disk, and the next one waits again, even after a rollback",
        arguments: TestEngine.available)
    func deferredIsForOneTransaction(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            // What an ordinary transaction waits for is the server's own setting (the test cluster of scripts/test runs
            // PostgreSQL with synchronous_commit off); a deferred one is relaxed, and the next one is back to the setting.
            let durable = try await database.transaction { db in
                try await db.raw("CREATE TABLE marks (id TEXT PRIMARY KEY)").run()
                return try await Self.syncSetting(db, engine: database.engine)
            }
            let relaxed = database.engine == .sqlite ? "1" : "off"
            if database.engine == .sqlite { #expect(durable == "2", "SQLite commits are synchronous = FULL") }
            let during = try await database.transaction(durability: .deferred) { db in
                try await db.raw("INSERT INTO marks (id) VALUES ('a')").run()
                return try await Self.syncSetting(db, engine: database.engine)
            }
            #expect(during == relaxed)
            #expect(try await database.transaction { db in try await Self.syncSetting(db, engine: database.engine) } == durable)
            // A deferred transaction that fails rolls back and leaves the connection durable.
            await #expect(throws: StorageError.self) {
                try await database.transaction(durability: .deferred) { db in
                    try await db.raw("INSERT INTO marks (id) VALUES ('b')").run()
                    try await db.raw("INSERT INTO marks (id) VALUES ('a')").run()
                }
            }
            #expect(try await database.transaction { db in try await Self.syncSetting(db, engine: database.engine) } == durable)
            let rows = try await database.read { db in
                try await db.raw("SELECT id FROM marks ORDER BY id").all().map { try $0.decode(column: "id", as: String.self) }
            }
            #expect(rows == ["a"], "the deferred commit is there; the failed one left nothing")
        }
    }
}
