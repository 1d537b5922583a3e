import CourtyardDomain
import CourtyardSQLite
import Foundation
import SQLKit

/// A row type owned by one company and one community, stored in its own table.
///
/// Conformers describe their columns and how to read and write them;
/// ``ScopedStore`` does the querying and always adds the tenant predicate.
public protocol TenantRecord: Sendable {
    /// The table name.
    static var table: String { get }
    /// The column that names the row's community (`community_id`, or `id` for communities).
    static var communityColumn: String { get }
    /// Every column, in the order of ``storageValues``.
    static var columns: [String] { get }
    /// Reads a row.
    init(row: RowReader) throws
    /// The values to write, in the order of ``columns``.
    var storageValues: [any SQLExpression] { get }

    var id: String { get }
    var companyId: String { get }
    var communityId: String { get }
}

extension TenantRecord {
    public static var communityColumn: String { "community_id" }
}

/// Typed access to one row's columns with Courtyard's storage encodings (ms instants, text dates, integer areas).
public struct RowReader {
    /// Where the values come from: an SQLKit row, or (on SQLite's raw read path) the current row of a prepared statement or
    /// values already copied out of one, found by name through the query's column list.
    enum Source {
        case sql(any SQLRow)
        case statement(RawSQLite.Statement, RawColumns)
        case values([StorageValue], RawColumns)
    }

    // The source's parts as plain fields: matching on the enum in every accessor copied its payload (with retains) twice
    // per column, which showed in bill-run profiles of house and occupancy reads.
    private let row: (any SQLRow)?
    /// The raw path: the statement positioned on the row (or the values copied out of it) and the query's columns.
    private let statement: OpaquePointer?
    private let values: [StorageValue]?
    private let columns: RawColumns?
    let table: String

    public init(_ row: any SQLRow, table: String) {
        self.init(.sql(row), table: table)
    }

    init(_ source: Source, table: String) {
        switch source {
        case .sql(let row): (self.row, statement, values, columns) = (row, nil, nil, nil)
        case .statement(let statement, let columns): (row, self.statement, values, self.columns) = (nil, statement.pointer, nil, columns)
        case .values(let values, let columns): (row, statement, self.values, self.columns) = (nil, nil, values, columns)
        }
        self.table = table
    }

    private func fail(_ column: String) -> StorageError { .corruptRow(table: table, column: column) }

    /// The raw path's value of `column`: text, integer or NULL, exactly as SQLite stores it (no conversions).
    /// The first `count` values of a raw statement's current row, copied out, or of values already copied out (empty on
    /// SQLKit rows).
    func rawValues(count: Int) -> [StorageValue] {
        if let values { return Array(values.prefix(count)) }
        guard let statement else { return [] }
        return (0..<Int32(count)).map { RawSQLite.Statement.value(of: statement, at: $0) }
    }

    private func stored(_ column: String) throws -> StorageValue {
        guard let index = columns?.index[column] else { throw fail(column) }
        if let statement { return RawSQLite.Statement.value(of: statement, at: index) }
        return values![Int(index)]
    }

    public func string(_ column: String) throws -> String {
        guard let row else {
            guard case .text(let text) = try stored(column) else { throw fail(column) }
            return text
        }
        do { return try row.decode(column: column, as: String.self) } catch { throw fail(column) }
    }

    public func optionalString(_ column: String) throws -> String? {
        guard let row else {
            switch try stored(column) {
            case .text(let text): return text
            case .null: return nil
            default: throw fail(column)
            }
        }
        do { return try row.decode(column: column, as: String?.self) } catch { throw fail(column) }
    }

    public func int64(_ column: String) throws -> Int64 {
        guard let row else {
            guard case .integer(let number) = try stored(column) else { throw fail(column) }
            return number
        }
        do { return try row.decode(column: column, as: Int64.self) } catch { throw fail(column) }
    }

    public func optionalInt(_ column: String) throws -> Int? {
        guard let row else {
            guard let number = try optionalInt64(column) else { return nil }
            guard let value = Int(exactly: number) else { throw fail(column) }
            return value
        }
        do { return try row.decode(column: column, as: Int?.self) } catch { throw fail(column) }
    }

    public func optionalInt64(_ column: String) throws -> Int64? {
        guard let row else {
            switch try stored(column) {
            case .integer(let number): return number
            case .null: return nil
            default: throw fail(column)
            }
        }
        do { return try row.decode(column: column, as: Int64?.self) } catch { throw fail(column) }
    }

    /// An instant stored as epoch milliseconds.
    public func instant(_ column: String) throws -> Date {
        Date(epochMilliseconds: try int64(column))
    }

    public func date(_ column: String) throws -> LocalDate {
        guard let date = LocalDate(try string(column)) else { throw fail(column) }
        return date
    }

    public func optionalDate(_ column: String) throws -> LocalDate? {
        guard let text = try optionalString(column) else { return nil }
        guard let date = LocalDate(text) else { throw fail(column) }
        return date
    }

    public func area(_ column: String) throws -> Area { Area(hundredths: try int64(column)) }

    public func optionalArea(_ column: String) throws -> Area? { try optionalInt64(column).map(Area.init(hundredths:)) }

    /// A text column holding an enum's raw value.
    public func value<E: RawRepresentable>(_ column: String, as type: E.Type) throws -> E where E.RawValue == String {
        guard let value = E(rawValue: try string(column)) else { throw fail(column) }
        return value
    }
}

extension Date {
    /// The instant `milliseconds` after 1970-01-01T00:00:00Z.
    public init(epochMilliseconds milliseconds: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }

    /// Whole milliseconds since 1970-01-01T00:00:00Z, the storage form of instants.
    public var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}

/// A value bound as a parameter, or SQL NULL when absent.
public func sqlValue<T: Encodable & Sendable>(_ value: T?) -> any SQLExpression {
    value.map { SQLBind($0) } ?? SQLLiteral.null
}
