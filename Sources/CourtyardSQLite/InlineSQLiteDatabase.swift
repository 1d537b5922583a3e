import Foundation
import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
import VaporCSQLite

/// SQLKit over the SQLite write connection, each statement run where the caller is, from a cached prepared statement.
///
/// sqlite-nio runs every statement as a job on a thread pool and resumes the caller afterwards: two thread switches and
/// a fresh `sqlite3_prepare` per statement, about 100–150 µs on this project's machines, where the SQLite work of a
/// typical statement (an indexed lookup or a one-row insert on cached pages) takes 5–20 µs. A payment callback's
/// transaction has about 35 statements, so the switches were most of its time. Inside ``Database/transaction(_:)``
/// the statements run inline on the transaction's own task instead, holding the database's write lock as before;
/// `BEGIN` and `COMMIT` (which may wait for a checkpoint or for the disk) still go to the thread pool, so a slow disk
/// never holds a cooperative thread.
///
/// Values are encoded and decoded by sqlite-kit's own `SQLiteDataEncoder` and `SQLiteDataDecoder`, and rows keep
/// sqlite-nio's rules (a column found by its first name), so a statement reads and writes exactly what it did through
/// sqlite-kit; errors are ``RawSQLite/Failure``, which ``StorageError/classify(_:)`` maps like sqlite-nio's.
package struct InlineSQLiteDatabase: SQLDatabase {
    let connection: RawSQLite
    /// sqlite-kit's database for the same file: its dialect, version and event loop.
    let base: any SQLDatabase
    let encoder = SQLiteDataEncoder()
    let decoder = SQLiteDataDecoder()
    /// Statements run since the transaction began (shared by the copies of this value).
    let statements = StatementCount()

    package init(connection: RawSQLite, base: any SQLDatabase) {
        self.connection = connection
        self.base = base
    }

    /// Counts statements, so that a long transaction lets other tasks run on its thread now and then.
    final class StatementCount: Sendable {
        let value = Atomic<Int>(0)
    }

    /// After this many statements in a row, the transaction's task yields its thread: a bill run's or an import's
    /// transaction of thousands of statements must not keep a cooperative thread from the requests waiting for it.
    static let statementsBetweenYields = 32

    package var logger: Logger { base.logger }
    package var eventLoop: any EventLoop { base.eventLoop }
    package var version: (any SQLDatabaseReportedVersion)? { base.version }
    package var dialect: any SQLDialect { base.dialect }
    package var queryLogLevel: Logger.Level? { base.queryLogLevel }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeCompletedFuture { try run(query, onRow) }
    }

    package func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
        if statements.value.add(1, ordering: .relaxed).newValue % Self.statementsBetweenYields == 0 { await Task.yield() }
    }

    package func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        var serializer = SQLSerializer(database: self)
        query.serialize(to: &serializer)
        if let queryLogLevel {
            logger.log(level: queryLogLevel, "Executing query", metadata: ["sql": .string(serializer.sql)])
        }
        let binds = try serializer.binds.map { try encoder.encode($0) }
        let statement = try connection.statement(serializer.sql)
        defer {
            statement.reset()
            statement.clearBindings()
        }
        let pointer = statement.pointer
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .integer(let number): result = sqlite_nio_sqlite3_bind_int64(pointer, index, Int64(number))
            case .float(let number): result = sqlite_nio_sqlite3_bind_double(pointer, index, number)
            case .text(let text):
                result = sqlite_nio_sqlite3_bind_text64(
                    pointer, index, text, UInt64(text.utf8.count), RawSQLite.Statement.transient,
                    UInt8(SQLITE_UTF8))
            case .blob(let buffer):
                result = buffer.withUnsafeReadableBytes {
                    sqlite_nio_sqlite3_bind_blob64(pointer, index, $0.baseAddress, UInt64($0.count), RawSQLite.Statement.transient)
                }
            case .null: result = sqlite_nio_sqlite3_bind_null(pointer, index)
            }
            guard result == SQLITE_OK else { throw connection.failure(result) }
        }
        var columns: InlineRow.Columns?
        while try statement.step() {
            let names = columns ?? InlineRow.Columns(pointer)
            columns = names
            var values: [SQLiteData] = []
            values.reserveCapacity(names.names.count)
            for column in 0..<Int32(names.names.count) { values.append(Self.data(pointer, column)) }
            onRow(InlineRow(columns: names, values: values, decoder: decoder))
        }
    }

    /// A column of the current row as sqlite-nio would read it.
    private static func data(_ pointer: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(pointer, column) {
        case SQLITE_INTEGER: return .integer(Int(sqlite_nio_sqlite3_column_int64(pointer, column)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(pointer, column))
        case SQLITE_TEXT: return .text(RawSQLite.Statement.string(of: pointer, at: column))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(pointer, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(pointer, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default: return .null
        }
    }
}

/// One row read by ``InlineSQLiteDatabase``, decoded as sqlite-kit decodes its rows.
struct InlineRow: SQLRow {
    /// A statement's column names and, for lookups, the first offset of each name.
    final class Columns: Sendable {
        let names: [String]
        let offsets: [String: Int]

        init(_ pointer: OpaquePointer) {
            let count = Int(sqlite_nio_sqlite3_column_count(pointer))
            var names: [String] = []
            var offsets: [String: Int] = [:]
            for column in 0..<count {
                let name = sqlite_nio_sqlite3_column_name(pointer, Int32(column)).map { String(cString: $0) } ?? ""
                names.append(name)
                if offsets[name] == nil { offsets[name] = column }
            }
            self.names = names
            self.offsets = offsets
        }
    }

    /// A column the statement did not return.
    struct MissingColumn: Error, CustomStringConvertible {
        let column: String
        var description: String { "no column \(column) in the row" }
    }

    let columns: Columns
    let values: [SQLiteData]
    let decoder: SQLiteDataDecoder

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.offsets[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let offset = columns.offsets[column] else { return true }
        return values[offset] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let offset = columns.offsets[column] else { throw MissingColumn(column: column) }
        return try decoder.decode(D.self, from: values[offset])
    }
}
