import SQLKit

/// One tenant's unit of work: a connection or transaction, the company (and optionally communities) whose rows it may
/// touch, and the engine's dialect. Module code that needs SQL beyond ``ScopedStore``'s record operations writes it
/// through this value, and **never types the tenant predicate**: every statement built here adds
/// `company_id = <the scope's company>` for each table it names (to the `WHERE` clause, to a join's `ON`, to an
/// `INSERT`'s columns, to an upsert's update), so a statement written here cannot reach another company's rows.
///
/// Conditions are passed as `SQLQueryString` fragments (binds interpolated with `\(bind:)`) and always wrapped in
/// parentheses after the tenant predicate, so an `OR` in a fragment cannot widen it. A test scans `Sources/` and fails
/// when SQL text outside the storage layer names `company_id`.
///
/// ```swift
/// let tenant = TenantSQL(db, companyId: company, engine: database.engine)
/// let row = try await tenant.select("id, amount", from: "refunds", where: "id = \(bind: id)", lock: .forUpdate).first()
/// try await tenant.update("refunds", set: "state = \(bind: "approved")", where: "id = \(bind: id)").run()
/// ```
public struct TenantSQL: Sendable {
    /// The connection or transaction statements run on.
    public let db: any SQLDatabase
    /// Whose rows are visible.
    public let scope: TenantScope
    /// The engine behind `db`: it decides the lock clause.
    public let engine: Database.Engine

    public init(_ db: any SQLDatabase, scope: TenantScope, engine: Database.Engine) {
        self.db = db
        self.scope = scope
        self.engine = engine
    }

    public init(_ db: any SQLDatabase, companyId: String, engine: Database.Engine) {
        self.init(db, scope: TenantScope(companyId: companyId), engine: engine)
    }

    /// The engine read from the connection's dialect (PostgreSQL's is named `postgresql`, SQLite's `sqlite`).
    public init(_ db: any SQLDatabase, scope: TenantScope) {
        self.init(db, scope: scope, engine: db.dialect.name == "postgresql" ? .postgres : .sqlite)
    }

    /// The company whose rows are visible.
    public var companyId: String { scope.companyId }

    /// The record-level store on the same connection and scope.
    public var store: ScopedStore { ScopedStore(db, scope: scope) }

    /// The same tenant on another connection or transaction (for example inside `database.transaction { … }`).
    public func on(_ other: any SQLDatabase) -> TenantSQL { TenantSQL(other, scope: scope, engine: engine) }

    // MARK: - Statements

    /// A statement built for this tenant, ready to run or to embed in another (as a subquery: `IN (\(query.sql))`).
    public struct Query: Sendable {
        let db: any SQLDatabase
        /// The statement's text with its binds.
        public let sql: SQLQueryString

        public func all() async throws -> [any SQLRow] { try await db.raw(sql).all() }
        public func first() async throws -> (any SQLRow)? { try await db.raw(sql).first() }
        public func run() async throws { try await db.raw(sql).run() }
    }

    /// How rows read for an update are locked. SQLite needs no clause (its write transaction holds the database lock);
    /// PostgreSQL takes row locks with `FOR UPDATE`.
    public enum Lock: Sendable, Equatable {
        case none
        /// Every row read.
        case forUpdate
        /// Only the rows of these aliases (PostgreSQL's `FOR UPDATE OF …`).
        case forUpdateOf([String])
    }

    /// A further table in a `SELECT`: joined on `on`, with the tenant predicate for it added to the join.
    public struct Join: Sendable {
        enum Kind: Sendable { case inner, left, ordered }
        let kind: Kind
        let table: String
        let alias: String
        let on: SQLQueryString

        /// `JOIN table alias ON alias.company_id = … AND (on)`.
        public static func inner(_ table: String, as alias: String, on: SQLQueryString) -> Join {
            Join(kind: .inner, table: table, alias: alias, on: on)
        }

        /// An inner join that SQLite's planner must take in the written order (`CROSS JOIN … ON` there, a plain `JOIN` on
        /// PostgreSQL, which plans joins itself): for a query driven from a small table the planner would not start from.
        public static func ordered(_ table: String, as alias: String, on: SQLQueryString) -> Join {
            Join(kind: .ordered, table: table, alias: alias, on: on)
        }

        /// `LEFT JOIN table alias ON alias.company_id = … AND (on)`: rows of another company never join.
        public static func left(_ table: String, as alias: String, on: SQLQueryString) -> Join {
            Join(kind: .left, table: table, alias: alias, on: on)
        }
    }

    /// `SELECT columns FROM table [alias] [joins] WHERE alias.company_id = ? [AND (condition)] [tail] [lock]`.
    ///
    /// - Parameters:
    ///   - tail: what follows the `WHERE` clause: `GROUP BY`, `ORDER BY`, `LIMIT`.
    ///   - lock: row locks on PostgreSQL, nothing on SQLite.
    public func select(
        _ columns: SQLQueryString, from table: String, as alias: String? = nil, joining joins: [Join] = [],
        where condition: SQLQueryString? = nil, then tail: SQLQueryString? = nil, lock: Lock = .none
    ) -> Query {
        let name = alias ?? table
        var sql: SQLQueryString = "SELECT \(columns) FROM \(ident: table)"
        if let alias { sql += " \(ident: alias)" }
        for join in joins {
            sql += " \(unsafeRaw: keyword(join.kind)) \(ident: join.table) \(ident: join.alias) ON \(predicate(join.alias)) AND (\(join.on))"
        }
        sql += " WHERE \(predicate(name))"
        if let condition { sql += " AND (\(condition))" }
        if let tail { sql += " \(tail)" }
        sql += lockClause(lock)
        return Query(db: db, sql: sql)
    }

    /// `INSERT INTO table (company_id, columns…) VALUES (?, values…)`, one row per element of `rows`.
    public func insert(
        into table: String, columns: [String], rows: [[any Encodable & Sendable]], onConflict conflict: Conflict? = nil,
        returning: SQLQueryString? = nil
    ) -> Query {
        var sql: SQLQueryString = "INSERT INTO \(ident: table) (\(idents: ["company_id"] + columns, joinedBy: ", ")) VALUES "
        sql += rows.map { row -> SQLQueryString in "(\(bind: companyId), \(binds: row))" }.joined(separator: ", ")
        if let conflict { sql += conflict.render(table: table) }
        if let returning { sql += " RETURNING \(returning)" }
        return Query(db: db, sql: sql)
    }

    /// `INSERT INTO table (company_id, columns…) VALUES (?, values…)`.
    public func insert(
        into table: String, columns: [String], values: [any Encodable & Sendable], onConflict conflict: Conflict? = nil,
        returning: SQLQueryString? = nil
    ) -> Query {
        insert(into: table, columns: columns, rows: [values], onConflict: conflict, returning: returning)
    }

    /// `INSERT INTO table (company_id, columns…) SELECT ?, expressions FROM source … WHERE source.company_id = ? AND (…)`:
    /// copies rows of this tenant only.
    public func insert(
        into table: String, columns: [String], selecting expressions: SQLQueryString, from source: String, as alias: String? = nil,
        where condition: SQLQueryString? = nil
    ) -> Query {
        let name = alias ?? source
        var sql: SQLQueryString = "INSERT INTO \(ident: table) (\(idents: ["company_id"] + columns, joinedBy: ", ")) "
        sql += "SELECT \(bind: companyId), \(expressions) FROM \(ident: source)"
        if let alias { sql += " \(ident: alias)" }
        sql += " WHERE \(predicate(name))"
        if let condition { sql += " AND (\(condition))" }
        return Query(db: db, sql: sql)
    }

    /// What an insert does when a unique key is taken.
    public struct Conflict: Sendable {
        let key: [String]
        let tenantKey: Bool
        let update: SQLQueryString?

        /// The key is `(company_id, columns…)`: a unique key within the tenant.
        public static func onTenantKey(_ columns: [String], doUpdate update: SQLQueryString? = nil) -> Conflict {
            Conflict(key: columns, tenantKey: true, update: update)
        }

        /// The key is `(columns…)`, unique across tenants (ids). An update never touches another company's row: the
        /// storage layer adds `WHERE table.company_id = excluded.company_id`.
        public static func onKey(_ columns: [String], doUpdate update: SQLQueryString? = nil) -> Conflict {
            Conflict(key: columns, tenantKey: false, update: update)
        }

        func render(table: String) -> SQLQueryString {
            let columns = tenantKey ? ["company_id"] + key : key
            var sql: SQLQueryString = " ON CONFLICT (\(idents: columns, joinedBy: ", "))"
            if let update {
                sql += " DO UPDATE SET \(update) WHERE \(ident: table).\(ident: "company_id") = excluded.\(ident: "company_id")"
            } else {
                sql += " DO NOTHING"
            }
            return sql
        }
    }

    /// `UPDATE table SET assignments WHERE company_id = ? AND (condition) [RETURNING …]`.
    public func update(
        _ table: String, set assignments: SQLQueryString, where condition: SQLQueryString, returning: SQLQueryString? = nil
    )
        -> Query
    {
        var sql: SQLQueryString = "UPDATE \(ident: table) SET \(assignments) WHERE \(predicate(nil)) AND (\(condition))"
        if let returning { sql += " RETURNING \(returning)" }
        return Query(db: db, sql: sql)
    }

    /// `DELETE FROM table WHERE company_id = ? AND (condition)`.
    public func delete(from table: String, where condition: SQLQueryString) -> Query {
        Query(db: db, sql: "DELETE FROM \(ident: table) WHERE \(predicate(nil)) AND (\(condition))")
    }

    /// `SELECT columns FROM companies WHERE id = ?`: the tenant's own company row.
    public func company(_ columns: SQLQueryString) -> Query {
        Query(db: db, sql: "SELECT \(columns) FROM companies WHERE id = \(bind: companyId)")
    }

    // MARK: - Sweeps across tenants

    /// A row found by a sweep, with the company it belongs to.
    public struct Owned: Sendable {
        /// The row's company: do the work on it through `TenantSQL(db, companyId: companyId, …)`.
        public let companyId: String
        public let row: any SQLRow
    }

    /// Background work that looks across companies (expiry sweeps, due commands, presence): `SELECT columns FROM table
    /// [alias] [joins] WHERE condition`, each row returned with its company. A join is to the same company's rows
    /// (`alias.company_id = name.company_id` is added to its `ON`). Only sweeps call this; anything done with a row
    /// afterwards goes through a `TenantSQL` of that row's company.
    public static func sweep(
        _ db: any SQLDatabase, _ columns: SQLQueryString, from table: String, as alias: String? = nil, joining joins: [Join] = [],
        where condition: SQLQueryString, then tail: SQLQueryString? = nil
    ) async throws -> [Owned] {
        let name = alias ?? table
        let company: SQLQueryString = "\(ident: name).\(ident: "company_id")"
        var sql: SQLQueryString = "SELECT \(company) AS \(ident: "courtyard_owner"), \(columns) FROM \(ident: table)"
        if let alias { sql += " \(ident: alias)" }
        for join in joins {
            let keyword =
                switch join.kind {
                case .inner, .ordered: "JOIN";
                case .left: "LEFT JOIN"
                }
            sql += " \(unsafeRaw: keyword) \(ident: join.table) \(ident: join.alias) ON \(ident: join.alias).\(ident: "company_id") = \(company)"
            sql += " AND (\(join.on))"
        }
        sql += " WHERE \(condition)"
        if let tail { sql += " \(tail)" }
        return try await db.raw(sql).all().map { Owned(companyId: try $0.decode(column: "courtyard_owner", as: String.self), row: $0) }
    }

    // MARK: - Pieces

    /// `name.company_id = ?` (or the bare column for `nil`).
    /// The scope's restriction to its communities on `column`, for a table that carries the community: always true
    /// when the scope spans the company. Like the company predicate, module code never writes it by hand.
    public func inScopeCommunities(_ column: String = "community_id") -> SQLQueryString {
        guard let ids = scope.communityIds else { return "1 = 1" }
        guard !ids.isEmpty else { return "1 = 0" }
        return "\(ident: column) IN (\(binds: ids.sorted()))"
    }

    private func predicate(_ name: String?) -> SQLQueryString {
        if let name { return "\(ident: name).\(ident: "company_id") = \(bind: companyId)" }
        return "\(ident: "company_id") = \(bind: companyId)"
    }

    private func keyword(_ kind: Join.Kind) -> String {
        switch kind {
        case .inner: "JOIN"
        case .left: "LEFT JOIN"
        case .ordered: engine == .sqlite ? "CROSS JOIN" : "JOIN"
        }
    }

    private func lockClause(_ lock: Lock) -> SQLQueryString {
        guard engine == .postgres else { return "" }
        switch lock {
        case .none: return ""
        case .forUpdate: return " FOR UPDATE"
        case .forUpdateOf(let aliases): return " FOR UPDATE OF \(idents: aliases, joinedBy: ", ")"
        }
    }
}

/// A store that works for one tenant through a ``TenantSQL`` (payments, refunds, the cash desk, the supply
/// controller…): made from the tenant value, or from a connection, a company and the engine, with the connection, the
/// company and the engine at hand.
public protocol TenantStore: Sendable {
    var tenant: TenantSQL { get }
    init(_ tenant: TenantSQL)
}

extension TenantStore {
    public init(_ db: any SQLDatabase, companyId: String, engine: Database.Engine) {
        self.init(TenantSQL(db, companyId: companyId, engine: engine))
    }

    public var db: any SQLDatabase { tenant.db }
    public var companyId: String { tenant.companyId }
    public var engine: Database.Engine { tenant.engine }
}
