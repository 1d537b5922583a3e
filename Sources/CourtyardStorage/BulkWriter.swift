import CourtyardSQLite
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit

extension StorageValue {
    /// The value as an SQLKit expression (a bind, or NULL).
    public var sqlExpression: any SQLExpression {
        switch self {
        case .text(let value): return SQLBind(value)
        case .integer(let value): return SQLBind(value)
        case .null: return SQLLiteral.null
        }
    }

    public static func text(_ value: String?) -> StorageValue { value.map { .text($0) } ?? .null }
    public static func integer(_ value: Int64?) -> StorageValue { value.map { .integer($0) } ?? .null }
}

/// A tenant record that can describe its row as plain values, for bulk writes.
public protocol BulkRecord: TenantRecord {
    var storageRow: [StorageValue] { get }
    /// Appends the row's cells (``storageRow``'s values, in ``columns`` order) to `buffer`. Records written by the million
    /// implement it to append their text without building the row first.
    func appendRow(to buffer: inout RowBuffer)
    /// About how many bytes of text a row holds, so a bulk write reserves its buffer once.
    static var typicalRowBytes: Int { get }
}

extension BulkRecord {
    public var storageValues: [any SQLExpression] { storageRow.map(\.sqlExpression) }

    public func appendRow(to buffer: inout RowBuffer) {
        for value in storageRow { buffer.append(value) }
    }

    public static var typicalRowBytes: Int { 256 }
}

/// Writes many rows of a few tables in one transaction, fast: on SQLite with prepared statements on a raw handle under the
/// database's write lock; on PostgreSQL with multi-row SQLKit inserts. Every row is checked against the scope first.
public final class BulkWriter: Sendable {
    /// One table's rows of a write.
    public struct Rows: Sendable {
        let table: String
        let columns: [String]
        let rows: RowBuffer

        public init<R: BulkRecord>(_ records: [R], into table: String = R.table) {
            self.table = table
            self.columns = R.columns
            var rows = RowBuffer(width: R.columns.count, reservingRows: records.count, bytesPerRow: R.typicalRowBytes)
            for (index, record) in records.enumerated() {
                record.appendRow(to: &rows)
                precondition(rows.cells.count == rows.width * (index + 1), "\(R.self).appendRow appended a row of the wrong width")
            }
            self.rows = rows
        }
    }

    /// One `UPDATE table SET column = value WHERE id = ? AND company_id = ? [AND extra]` per row.
    public struct Update: Sendable {
        let table: String
        let column: String
        let value: StorageValue
        let id: String
        /// A condition written into the SQL text (e.g. `bill_id IS NULL`).
        let condition: String?

        public init(table: String, set column: String, to value: StorageValue, id: String, condition: String? = nil) {
            self.table = table; self.column = column; self.value = value; self.id = id; self.condition = condition
        }
    }

    let database: Database
    let scope: TenantScope
    private let raw: RawSQLite?

    public init(database: Database, scope: TenantScope) throws {
        self.database = database
        self.scope = scope
        if database.engine == .sqlite, let path = database.sqlitePath, database.fastPaths.bulk {
            // Bulk writes append (ordered ids): a modest page cache is enough and keeps a long run's memory flat.
            raw = try RawSQLite(path: path, cacheKiB: 32_768, checkpointer: database.checkpointer)
        } else {
            raw = nil
        }
    }

    /// Inserts every table's rows and applies the updates, all in one transaction.
    public func write(_ tables: [Rows], updates: [Update] = []) async throws {
        try Self.checkScope(tables, companyId: scope.companyId)
        if let raw {
            try await database.withSQLiteWriteLock { [scope] in
                try await NIOThreadPool.singleton.runIfActive {
                    try raw.begin()
                    do {
                        try Self.apply(tables, updates: updates, companyId: scope.companyId, on: raw)
                        try raw.commit()
                    } catch {
                        try? raw.execute("ROLLBACK")
                        throw StorageError.classify(error) ?? error
                    }
                }
            }
            return
        }
        guard database.engine == .postgres, database.fastPaths.bulk else {
            // The careful path (``FastPaths/bulk`` off): the same rows and updates as SQLKit statements in one transaction.
            try await database.transaction { [scope] db in try await Self.apply(tables, updates: updates, companyId: scope.companyId, on: db) }
            return
        }
        try await database.withPostgresTransaction { [scope, database] connection in
            try await Self.apply(tables, updates: updates, companyId: scope.companyId, on: connection, logger: database.logger)
        }
    }

    /// Inserts the rows (multi-row inserts of at most 500 rows) and applies the updates through SQLKit, inside the
    /// transaction the caller holds.
    static func apply(_ tables: [Rows], updates: [Update], companyId: String, on db: any SQLDatabase) async throws {
        for table in tables where table.rows.rowCount > 0 {
            for first in stride(from: 0, to: table.rows.rowCount, by: 500) {
                let insert = db.insert(into: table.table).columns(table.columns)
                for row in first..<min(first + 500, table.rows.rowCount) {
                    insert.values((0..<table.rows.width).map { table.rows.value(row: row, column: $0).sqlExpression })
                }
                try await insert.run()
            }
        }
        for update in updates {
            let query = db.update(update.table).set(SQLColumn(update.column), to: update.value.sqlExpression)
                .where("id", .equal, SQLBind(update.id)).where("company_id", .equal, SQLBind(companyId))
            if let condition = update.condition { query.where(SQLRaw(condition)) }
            try await query.run()
        }
    }

    /// Refuses rows of another company: every row's `company_id` must be `companyId`.
    static func checkScope(_ tables: [Rows], companyId: String) throws {
        for table in tables {
            guard let companyIndex = table.columns.firstIndex(of: "company_id") else { throw StorageError.outOfScope }
            for row in 0..<table.rows.rowCount where !table.rows.cell(row: row, column: companyIndex, isText: companyId) {
                throw StorageError.outOfScope
            }
        }
    }

    /// Inserts the rows and applies the updates inside the transaction the caller holds on `raw` (SQLite).
    static func apply(_ tables: [Rows], updates: [Update], companyId: String, on raw: RawSQLite) throws {
        for table in tables where table.rows.rowCount > 0 {
            let placeholders = (1...table.columns.count).map { "?\($0)" }.joined(separator: ", ")
            let insert = try raw.statement("INSERT INTO \(table.table) (\(table.columns.joined(separator: ", "))) VALUES (\(placeholders))")
            try insertAll(table.rows, with: insert)
        }
        for update in updates {
            let extra = update.condition.map { " AND \($0)" } ?? ""
            let statement = try raw.statement("UPDATE \(update.table) SET \(update.column) = ?1 WHERE id = ?2 AND company_id = ?3\(extra)")
            statement.bind(1, update.value)
            statement.bind(2, update.id)
            statement.bind(3, companyId)
            do {
                try statement.run()
            } catch {
                statement.reset()
                throw error
            }
            statement.reset()
        }
    }

    /// Copies the rows in (`COPY … FROM STDIN`, text format) and applies the updates inside the transaction the caller
    /// holds on `connection` (PostgreSQL).
    static func apply(
        _ tables: [Rows], updates: [Update], companyId: String, on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        for table in tables where table.rows.rowCount > 0 {
            try await connection.copyFrom(table: table.table, columns: table.columns, logger: logger) { writer in
                var buffer = ByteBuffer()
                buffer.reserveCapacity(1 << 20)
                for row in 0..<table.rows.rowCount {
                    Self.appendCopyRow(row, of: table.rows, to: &buffer)
                    if buffer.readableBytes >= 1 << 20 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
        }
        let db = connection.sql()
        for update in updates {
            let query = db.update(update.table).set(SQLColumn(update.column), to: update.value.sqlExpression)
                .where("id", .equal, SQLBind(update.id)).where("company_id", .equal, SQLBind(companyId))
            if let condition = update.condition { query.where(SQLRaw(condition)) }
            try await query.run()
        }
    }

    /// Binds and inserts every row of `rows`, its text in place: the bytes stay pinned until the last row is reset.
    package static func insertAll(_ rows: RowBuffer, with insert: RawSQLite.Statement) throws {
        // A pointer for empty text: a null pointer would bind NULL, not ''.
        let empty: StaticString = ""
        defer { insert.clearBindings() }
        try rows.bytes.withUnsafeBufferPointer { bytes in
            var cell = 0
            for _ in 0..<rows.rowCount {
                for column in 1...Int32(rows.width) {
                    switch rows.cells[cell] {
                    case .text(let start, let count):
                        if count > 0, let base = bytes.baseAddress {
                            insert.bindText(column, borrowing: base + Int(start), count: count)
                        } else {
                            insert.bindText(column, borrowing: empty.utf8Start, count: 0)
                        }
                    case .integer(let number): insert.bind(column, number)
                    case .null: insert.bind(column, Optional<Int64>.none)
                    }
                    cell += 1
                }
                do {
                    try insert.run()
                } catch {
                    insert.reset()
                    throw error
                }
                insert.reset()
            }
        }
    }

    /// One row in COPY's text format: tab-separated, `\N` for NULL, backslash escapes for backslash, tab, newline, CR.
    static func appendCopyRow(_ row: Int, of rows: RowBuffer, to buffer: inout ByteBuffer) {
        for column in 0..<rows.width {
            if column > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
            switch rows.cells[row * rows.width + column] {
            case .null: buffer.writeStaticString("\\N")
            case .integer(let number): buffer.writeString(String(number))
            case .text(let start, let count):
                for byte in rows.bytes[Int(start)..<Int(start + count)] {
                    switch byte {
                    case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                    case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                    case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                    case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                    default: buffer.writeInteger(byte)
                    }
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}

extension RawSQLite.Statement {
    func bind(_ index: Int32, _ value: StorageValue) {
        switch value {
        case .text(let text): bind(index, text)
        case .integer(let number): bind(index, number)
        case .null: bind(index, Optional<String>.none)
        }
    }
}
