import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

@Suite("Tenant-scoped SQL")
struct TenantSQLTests {
    /// A scratch table with rows of two companies: `a1`, `a2` of A and `b1` of B.
    func probe(_ database: Database, _ companies: TwoCompanies) async throws {
        try await database.transaction { db in
            try await db.raw("CREATE TABLE tenant_probe (id TEXT PRIMARY KEY, company_id TEXT NOT NULL, note TEXT NOT NULL, n BIGINT NOT NULL)").run()
            let a = TenantSQL(db, companyId: companies.a.companyId, engine: database.engine)
            let b = TenantSQL(db, companyId: companies.b.companyId, engine: database.engine)
            try await a.insert(into: "tenant_probe", columns: ["id", "note", "n"], rows: [["a1", "a", Int64(1)], ["a2", "a", Int64(2)]]).run()
            try await b.insert(into: "tenant_probe", columns: ["id", "note", "n"], values: ["b1", "b", Int64(3)]).run()
        }
    }

    /// Every row as (id, company, note), read without any scope.
    func everything(_ database: Database) async throws -> [String: (String, String)] {
        try await database.read { db in
            var rows: [String: (String, String)] = [:]
            for row in try await db.raw("SELECT id, company_id, note FROM tenant_probe").all() {
                rows[try row.decode(column: "id", as: String.self)] =
                    (try row.decode(column: "company_id", as: String.self), try row.decode(column: "note", as: String.self))
            }
            return rows
        }
    }

    func ids(_ rows: [any SQLRow]) throws -> Set<String> { Set(try rows.map { try $0.decode(column: "id", as: String.self) }) }

    @Test("reads, joins and copies see only the tenant's rows, even when a condition says OR", arguments: TestEngine.available)
    func readsAreScoped(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            try await probe(database, companies)
            try await database.read { db in
                let a = TenantSQL(db, companyId: companies.a.companyId, engine: database.engine)
                #expect(try ids(try await a.select("id", from: "tenant_probe").all()) == ["a1", "a2"])
                #expect(try ids(try await a.select("id", from: "tenant_probe", where: "id = 'b1' OR 1 = 1").all()) == ["a1", "a2"])
                #expect(try await a.select("id", from: "tenant_probe", where: "id = \(bind: "b1")").first() == nil)
                // A join names its own table: B's row never joins, inner or left.
                let left = try await a.select(
                    "p.id AS id, q.id AS other", from: "tenant_probe", as: "p",
                    joining: [.left("tenant_probe", as: "q", on: "q.id = 'b1' OR q.id = 'a2'")],
                    where: "p.id = 'a1'"
                ).all()
                #expect(try left.map { try $0.decode(column: "other", as: String?.self) } == ["a2"])
                let inner = try await a.select(
                    "p.id AS id", from: "tenant_probe", as: "p",
                    joining: [.inner("tenant_probe", as: "q", on: "q.id = 'b1'")]
                ).all()
                #expect(inner.isEmpty)
                let company = try await a.company("id").first().map { try $0.decode(column: "id", as: String.self) }
                #expect(company == companies.a.companyId)
            }
            // Copying rows copies the tenant's only, and stamps them with the tenant.
            try await database.transaction { db in
                try await db.raw("CREATE TABLE tenant_probe_copy (id TEXT PRIMARY KEY, company_id TEXT NOT NULL, note TEXT NOT NULL)").run()
                try await TenantSQL(db, companyId: companies.a.companyId, engine: database.engine)
                    .insert(
                        into: "tenant_probe_copy", columns: ["id", "note"], selecting: "id || '-copy', note", from: "tenant_probe",
                        where: "1 = 1 OR id = 'b1'"
                    ).run()
            }
            let copied = try await database.read { db in
                try await db.raw("SELECT id, company_id FROM tenant_probe_copy ORDER BY id").all().map {
                    "\(try $0.decode(column: "id", as: String.self))@\(try $0.decode(column: "company_id", as: String.self))"
                }
            }
            #expect(copied == ["a1-copy@\(companies.a.companyId)", "a2-copy@\(companies.a.companyId)"])
        }
    }

    @Test("updates, deletes and upserts never change another company's row", arguments: TestEngine.available)
    func writesAreScoped(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let companies = try await TwoCompanies.seed(database)
            try await probe(database, companies)
            try await database.transaction { db in
                let a = TenantSQL(db, companyId: companies.a.companyId, engine: database.engine)
                try await a.update("tenant_probe", set: "note = 'changed'", where: "id = 'b1' OR 1 = 1").run()
                try await a.delete(from: "tenant_probe", where: "id = \(bind: "b1")").run()
                // The id is taken by B: the upsert's update is skipped rather than rewriting B's row.
                try await a.insert(
                    into: "tenant_probe", columns: ["id", "note", "n"], values: ["b1", "stolen", Int64(9)],
                    onConflict: .onKey(["id"], doUpdate: "note = excluded.note")
                ).run()
                // Its own row: the update applies.
                try await a.insert(
                    into: "tenant_probe", columns: ["id", "note", "n"], values: ["a1", "upserted", Int64(9)],
                    onConflict: .onKey(["id"], doUpdate: "note = excluded.note")
                ).run()
            }
            let rows = try await everything(database)
            #expect(rows.count == 3)
            #expect(rows["b1"]?.0 == companies.b.companyId)
            #expect(rows["b1"]?.1 == "b")
            #expect(rows["a1"]?.1 == "upserted")
            #expect(rows["a2"]?.1 == "changed")
            #expect(rows["a1"]?.0 == companies.a.companyId)
        }
    }

    @Test("the lock clause is the engine's: FOR UPDATE on PostgreSQL, nothing on SQLite", arguments: TestEngine.available)
    func lockClause(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            try await database.read { db in
                let tenant = TenantSQL(db, companyId: "c", engine: database.engine)
                let plain = db.serialize(tenant.select("id", from: "houses", where: "id = \(bind: "h")", lock: .forUpdate).sql).sql
                let some = db.serialize(tenant.select("p.id", from: "houses", as: "p", lock: .forUpdateOf(["p"])).sql).sql
                if database.engine == .postgres {
                    #expect(plain.hasSuffix(" FOR UPDATE"))
                    #expect(some.hasSuffix(#" FOR UPDATE OF "p""#))
                } else {
                    #expect(!plain.contains("FOR UPDATE") && !some.contains("FOR UPDATE"))
                }
                #expect(plain.contains("company_id"))
            }
        }
    }
}
