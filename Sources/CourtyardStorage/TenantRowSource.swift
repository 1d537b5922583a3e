import CourtyardSQLite
import Foundation
import NIOPosix
import SQLKit
import Synchronization

/// The batch reads a bulk job (a bill run) makes of tenant rows, with the tenant predicate always added.
///
/// ``ScopedStore`` answers them through SQLKit on any engine; ``SQLiteTenantReader`` and ``PostgresTenantReader`` answer
/// the same queries on the drivers directly, without SQLKit's per-value `Codable` bridging (about a sixth of a bill
/// run's CPU on SQLite; most of the client's on PostgreSQL). All build the same `WHERE` clause, so a job reads the same
/// rows whichever it is given.
public protocol TenantRowSource: Sendable {
    /// One page of rows in id order, after `cursor` (see ``ScopedStore/list(_:filters:after:limit:)``).
    func list<R: TenantRecord>(
        _ type: R.Type, filters: [(column: String, value: String)], after cursor: String?, limit: Int
    )
        async throws -> (items: [R], nextCursor: String?)

    /// Every row whose `column` is one of `values` and that matches `filters`, `other` and the `literal` conditions
    /// (SQL text such as `bill_id IS NULL`, written into the query so partial indexes can serve it).
    func all<R: TenantRecord>(
        _ type: R.Type, where column: String, in values: [String], filters: [(column: String, value: String)],
        alsoIn other: (column: String, values: [String])?, literal: [String]
    ) async throws -> [R]

    /// The named columns of the rows `all` would return, for loads that need a few fields.
    func rows<R: TenantRecord>(
        _ names: [String], of type: R.Type, where column: String, in values: [String],
        alsoIn other: (column: String, values: [String])?, literal: [String]
    ) async throws -> [RowReader]
}

extension TenantRowSource {
    /// Every row matching `filters` within the scope, read page by page (never silently cut at a page size).
    public func listAll<R: TenantRecord>(_ type: R.Type, filters: [(column: String, value: String)] = [], pageSize: Int = 10_000) async throws -> [R]
    {
        var records: [R] = []
        var cursor: String? = nil
        repeat {
            let page = try await list(type, filters: filters, after: cursor, limit: pageSize)
            records.append(contentsOf: page.items)
            cursor = page.nextCursor
        } while cursor != nil
        return records
    }
}

extension ScopedStore: TenantRowSource {
    public func all<R: TenantRecord>(
        _ type: R.Type, where column: String, in values: [String], filters: [(column: String, value: String)],
        alsoIn other: (column: String, values: [String])?, literal: [String]
    ) async throws -> [R] {
        try await all(type, where: column, in: values, filters: filters, alsoIn: other, literal: literal.map { SQLRaw($0) })
    }

    public func rows<R: TenantRecord>(
        _ names: [String], of type: R.Type, where column: String, in values: [String],
        alsoIn other: (column: String, values: [String])?, literal: [String]
    ) async throws -> [RowReader] {
        try await columns(names, of: type, where: column, in: values, alsoIn: other, literal: literal.map { SQLRaw($0) })
            .map { RowReader($0, table: R.table) }
    }
}

/// A query's column names by position, shared by every row the query returns.
final class RawColumns: Sendable {
    let index: [String: Int32]

    init(_ names: [String]) {
        var index: [String: Int32] = [:]
        for (position, name) in names.enumerated() { index[name] = Int32(position) }
        self.index = index
    }
}

/// SQL text with its parameters, numbered as they are bound (`?1` on SQLite, `$1` on PostgreSQL).
struct BoundSQL {
    let placeholder: @Sendable (Int) -> String
    private(set) var parameters: [String] = []

    init(placeholder: @escaping @Sendable (Int) -> String) { self.placeholder = placeholder }

    /// Binds `value` and returns its placeholder.
    mutating func bind(_ value: String) -> String {
        parameters.append(value)
        return placeholder(parameters.count)
    }

    /// Binds every value and returns their placeholders, comma-separated (for `IN (…)`).
    mutating func bind(all values: some Sequence<String>) -> String {
        values.map { bind($0) }.joined(separator: ", ")
    }
}

/// A ``TenantRowSource`` that writes its own SQL and runs it on a driver connection, without SQLKit: the list, batch and
/// column reads are built here once, with the tenant predicate, and each reader only runs a query and hands out rows.
protocol DirectTenantReader: TenantRowSource {
    var scope: TenantScope { get }
    /// The placeholder of the `position`-th parameter (from 1).
    static func placeholder(_ position: Int) -> String
    /// Runs `sql` and returns `transform` of each row; a row's reader is valid only inside `transform`.
    func collect<T: Sendable>(
        _ sql: String, _ parameters: [String], columns: RawColumns, table: String,
        _ transform: @Sendable @escaping (RowReader) throws -> T
    ) async throws -> [T]
}

extension DirectTenantReader {
    /// `SELECT names FROM table WHERE conditions AND <tenant predicate>`, with its parameters in order.
    private func select(
        _ names: [String], from table: String, communityColumn: String, suffix: String = "",
        where conditions: (inout BoundSQL) -> [String]
    ) -> (sql: String, parameters: [String]) {
        var bound = BoundSQL(placeholder: Self.placeholder)
        var conditions = conditions(&bound)
        conditions.append("\"company_id\" = \(bound.bind(scope.companyId))")
        if let communities = scope.communityIds {
            conditions.append("\"\(communityColumn)\" IN (\(bound.bind(all: communities.sorted())))")
        }
        let columns = names.map { "\"\($0)\"" }.joined(separator: ", ")
        return ("SELECT \(columns) FROM \"\(table)\" WHERE \(conditions.joined(separator: " AND "))\(suffix)", bound.parameters)
    }

    /// The `column IN (…)` / `column = ?` / literal conditions shared by ``all`` and ``rows``, for one slice of `values`.
    private static func conditions(
        _ column: String, _ values: ArraySlice<String>, filters: [(column: String, value: String)],
        alsoIn other: (column: String, values: [String])?, literal: [String], into bound: inout BoundSQL
    ) -> [String] {
        var conditions = ["\"\(column)\" IN (\(bound.bind(all: values)))"]
        for filter in filters {
            conditions.append("\"\(filter.column)\" = \(bound.bind(filter.value))")
        }
        if let other {
            conditions.append("\"\(other.column)\" IN (\(bound.bind(all: other.values)))")
        }
        conditions.append(contentsOf: literal.map { "(\($0))" })
        return conditions
    }

    public func list<R: TenantRecord>(
        _ type: R.Type, filters: [(column: String, value: String)], after cursor: String?, limit: Int
    )
        async throws -> (items: [R], nextCursor: String?)
    {
        let query = select(R.columns, from: R.table, communityColumn: R.communityColumn, suffix: " ORDER BY \"id\" LIMIT \(limit + 1)") { bound in
            var conditions = filters.map { "\"\($0.column)\" = \(bound.bind($0.value))" }
            if let cursor { conditions.append("\"id\" > \(bound.bind(cursor))") }
            return conditions
        }
        var items = try await collect(query.sql, query.parameters, columns: RawColumns(R.columns), table: R.table) { try R(row: $0) }
        let next = items.count > limit ? items[limit - 1].id : nil
        if items.count > limit { items.removeLast(items.count - limit) }
        return (items, next)
    }

    public func all<R: TenantRecord>(
        _ type: R.Type, where column: String, in values: [String], filters: [(column: String, value: String)],
        alsoIn other: (column: String, values: [String])?, literal: [String]
    ) async throws -> [R] {
        guard !values.isEmpty, other.map({ !$0.values.isEmpty }) ?? true else { return [] }
        var records: [R] = []
        let columns = RawColumns(R.columns)
        for start in stride(from: 0, to: values.count, by: 1_000) {
            let slice = values[start..<min(values.count, start + 1_000)]
            let query = select(R.columns, from: R.table, communityColumn: R.communityColumn) { bound in
                Self.conditions(column, slice, filters: filters, alsoIn: other, literal: literal, into: &bound)
            }
            records += try await collect(query.sql, query.parameters, columns: columns, table: R.table) { try R(row: $0) }
        }
        return records
    }

    public func rows<R: TenantRecord>(
        _ names: [String], of type: R.Type, where column: String, in values: [String],
        alsoIn other: (column: String, values: [String])?, literal: [String]
    ) async throws -> [RowReader] {
        guard !values.isEmpty, other.map({ !$0.values.isEmpty }) ?? true else { return [] }
        var copied: [[StorageValue]] = []
        let columns = RawColumns(names)
        for start in stride(from: 0, to: values.count, by: 1_000) {
            let slice = values[start..<min(values.count, start + 1_000)]
            let query = select(names, from: R.table, communityColumn: R.communityColumn) { bound in
                Self.conditions(column, slice, filters: [], alsoIn: other, literal: literal, into: &bound)
            }
            copied += try await collect(query.sql, query.parameters, columns: columns, table: R.table) { row in
                row.rawValues(count: names.count)
            }
        }
        return copied.map { RowReader(.values($0, columns), table: R.table) }
    }
}

/// The bulk reader for `database`'s engine: raw SQLite or PostgreSQL without SQLKit; `nil` when
/// `COURTYARD_BULK_SQLKIT_ONLY` is set (then callers read through ``ScopedStore``, for comparisons).
public func bulkReader(_ database: Database, scope: TenantScope) throws -> (any TenantRowSource)? {
    if let reader = try SQLiteTenantReader(database: database, scope: scope) { return reader }
    return PostgresTenantReader(database: database, scope: scope)
}

/// Tenant reads on a raw SQLite connection of its own (see ``TenantRowSource``), for bulk jobs on the embedded engine.
///
/// The connection sees the last committed state, like the ``Database``'s reader; each call runs as one job on the
/// thread pool, and calls are serialized by a lock, so the connection is never used by two threads at once.
public final class SQLiteTenantReader: DirectTenantReader {
    public let scope: TenantScope
    private let connection: Mutex<RawSQLite>

    /// Opens a connection to the database's file; `nil` when the database is not SQLite, or was opened without the bulk
    /// fast paths (``FastPaths/bulk``).
    public init?(database: Database, scope: TenantScope, cacheKiB: Int = 32_768) throws {
        guard database.engine == .sqlite, let path = database.sqlitePath, database.fastPaths.bulk else { return nil }
        self.scope = scope
        connection = Mutex(try RawSQLite(path: path, cacheKiB: cacheKiB))
    }

    static func placeholder(_ position: Int) -> String { "?\(position)" }

    /// Runs the query on the thread pool and returns `transform` of each row (a reader over the statement's current row).
    func collect<T: Sendable>(
        _ sql: String, _ parameters: [String], columns: RawColumns, table: String,
        _ transform: @Sendable @escaping (RowReader) throws -> T
    ) async throws -> [T] {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            try connection.withLock { raw in
                let statement = try raw.statement(sql)
                defer { statement.reset() }
                for (position, parameter) in parameters.enumerated() { statement.bind(Int32(position + 1), parameter) }
                var results: [T] = []
                while try statement.step() {
                    results.append(try transform(RowReader(.statement(statement, columns), table: table)))
                }
                return results
            }
        }
    }
}
