import CourtyardLedger
import CourtyardSQLite
import Foundation

/// One prepared statement of the engine fast path, as the modules above Storage see it: parameters numbered from 1,
/// columns from 0. Reset before reuse; bindings are overwritten by the next use.
///
/// The fast path is SQLite's today (``CourtyardSQLite``, the adapter, implements it); modules write their hot
/// statements against this protocol and through ``TenantFastSQL``, never against the adapter.
public protocol FastStatement {
    func bind(_ index: Int32, _ value: Int64)
    func bind(_ index: Int32, _ value: String)
    func bind(_ index: Int32, _ value: String?)
    func bind(_ index: Int32, _ value: Int64?)
    /// Steps once: `true` when a row is ready, `false` when done.
    func step() throws -> Bool
    /// Runs a statement that returns no rows.
    func run() throws
    func reset()
    func int64(_ column: Int32) -> Int64
    func isNull(_ column: Int32) -> Bool
    func string(_ column: Int32) -> String
    func optionalString(_ column: Int32) -> String?
    func optionalInt64(_ column: Int32) -> Int64?
}

/// The fast path's connection: one transaction at a time, used by one owner at a time (the writer that opened it,
/// holding the database's write lock, inside one thread-pool job).
public protocol FastConnection: AnyObject, Sendable {
    /// The cached prepared statement for `sql`, reset and with its bindings cleared. Module code builds tenant tables'
    /// statements through ``TenantFastSQL`` instead; this is for tables without a tenant (`ingest_generation`).
    func prepared(_ sql: String) throws -> any FastStatement
    /// Begins a write transaction (`BEGIN IMMEDIATE`).
    func begin() throws
    func commit() throws
    /// Rolls the open transaction back; a connection without one is left as it is.
    func rollback()
    /// The rowid of the last row this connection inserted.
    var lastInsertRowid: Int64 { get }
    /// Turns foreign-key checks on or off for the following transactions; see each caller for why its writes cannot
    /// break a reference.
    func enforceForeignKeys(_ enforce: Bool) throws
    /// Ledger work inside this connection's open transaction: see ``RawSQLite/applyLedger(companyId:probes:now:_:)``.
    func applyLedger<T>(companyId: String, probes: [LedgerOperation], now: Date, _ body: (inout LedgerState) throws -> T) throws -> T
    /// The stored balance of a ledger account (posted credits, posted debits, pending debits), or nil before its first
    /// posting. Account ids are unique across tenants (derived from the company's id).
    func ledgerBalance(of accountId: String) throws -> (creditsPosted: Int64, debitsPosted: Int64, debitsPending: Int64)?
}

extension FastConnection {
    /// The tenant `companyId`'s view of this connection: every statement it builds names the tenant itself.
    public func tenant(_ companyId: String) -> TenantFastSQL { TenantFastSQL(self, companyId: companyId) }
}

/// Whether `error` is a fast-path statement refused by a UNIQUE, PRIMARY KEY or other constraint.
public func isConstraintViolation(_ error: any Error) -> Bool {
    (error as? RawSQLite.Failure)?.isConstraint == true
}

/// A statement of a tenant's table for the fast path, built by the storage layer: it names the tenant predicate (or the
/// tenant column of an insert) itself, with the tenant's id as parameter 1; the caller's parameters start at 2.
/// Build each once (a `static let`) and prepare it per tenant with ``TenantFastSQL/prepare(_:)``.
public struct TenantQuery: Sendable, Hashable {
    /// The SQL text (parameter 1 is the tenant).
    public let sql: String

    /// A join of a select: `JOIN table alias ON alias.company_id = ?1 AND (on)`.
    public struct Join: Sendable {
        let table: String
        let alias: String
        let on: String

        public static func inner(_ table: String, as alias: String, on: String) -> Join { Join(table: table, alias: alias, on: on) }
    }

    /// `SELECT columns FROM table [alias] [joins] WHERE alias.company_id = ?1 [AND (condition)] [tail]`.
    public static func select(
        _ columns: String, from table: String, as alias: String? = nil, joining joins: [Join] = [], where condition: String? = nil,
        then tail: String? = nil
    ) -> TenantQuery {
        var sql = "SELECT \(columns) FROM \(table)"
        if let alias { sql += " \(alias)" }
        for join in joins { sql += " JOIN \(join.table) \(join.alias) ON \(join.alias).company_id = ?1 AND (\(join.on))" }
        sql += " WHERE \(alias ?? table).company_id = ?1"
        if let condition { sql += " AND (\(condition))" }
        if let tail { sql += " \(tail)" }
        return TenantQuery(sql: sql)
    }

    /// What an insert does when a unique key is taken.
    public enum Conflict: Sendable {
        /// The key is `(company_id, columns…)`: nothing is written.
        case ignoreOnTenantKey([String])
        /// The key is `(columns…)`, unique across tenants (ids); `assignments` update the row, never another company's:
        /// the builder adds `WHERE table.company_id = excluded.company_id`.
        case updateOnKey([String], set: String)
    }

    /// `INSERT INTO table (company_id, columns…) VALUES (?1, values)`. `values` is the text after `?1, ` (parameters
    /// from ?2, or expressions); by default one parameter per column, in order.
    public static func insert(
        into table: String, columns: [String], values: String? = nil, onConflict conflict: Conflict? = nil
    )
        -> TenantQuery
    {
        let values = values ?? (2..<(columns.count + 2)).map { "?\($0)" }.joined(separator: ", ")
        var sql = "INSERT INTO \(table) (company_id, \(columns.joined(separator: ", "))) VALUES (?1, \(values))"
        switch conflict {
        case .ignoreOnTenantKey(let key)?: sql += " ON CONFLICT (company_id, \(key.joined(separator: ", "))) DO NOTHING"
        case .updateOnKey(let key, let assignments)?:
            sql += " ON CONFLICT (\(key.joined(separator: ", "))) DO UPDATE SET \(assignments) WHERE \(table).company_id = excluded.company_id"
        case nil: break
        }
        return TenantQuery(sql: sql)
    }

    /// `UPDATE table SET assignments WHERE company_id = ?1 AND (condition)`.
    public static func update(_ table: String, set assignments: String, where condition: String) -> TenantQuery {
        TenantQuery(sql: "UPDATE \(table) SET \(assignments) WHERE company_id = ?1 AND (\(condition))")
    }
}

/// One tenant's view of a ``FastConnection`` (``TenantSQL`` for the fast path): it prepares ``TenantQuery``s with the
/// tenant bound as parameter 1.
public struct TenantFastSQL {
    public let connection: any FastConnection
    public let companyId: String

    public init(_ connection: any FastConnection, companyId: String) {
        self.connection = connection
        self.companyId = companyId
    }

    /// The cached statement for `query`, reset, with this tenant bound as parameter 1 and every other parameter cleared.
    public func prepare(_ query: TenantQuery) throws -> any FastStatement {
        let statement = try connection.prepared(query.sql)
        statement.bind(1, companyId)
        return statement
    }

    /// Ledger work of this tenant inside the connection's open transaction (``FastConnection/applyLedger(companyId:probes:now:_:)``).
    public func applyLedger<T>(probes: [LedgerOperation], now: Date, _ body: (inout LedgerState) throws -> T) throws -> T {
        try connection.applyLedger(companyId: companyId, probes: probes, now: now, body)
    }
}

extension RawSQLite.Statement: FastStatement {}

extension RawSQLite: FastConnection {
    public func prepared(_ sql: String) throws -> any FastStatement {
        try statement(sql)
    }

    public func ledgerBalance(of accountId: String) throws -> (creditsPosted: Int64, debitsPosted: Int64, debitsPending: Int64)? {
        let query = try statement(
            "SELECT credits_posted, debits_posted, debits_pending FROM ledger_balances WHERE account_id = ?1")
        query.bind(1, accountId)
        defer { query.reset() }
        guard try query.step() else { return nil }
        return (query.int64(0), query.int64(1), query.int64(2))
    }
}
