import CourtyardSQLite
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Tenant reads on PostgreSQL through PostgresNIO directly (see ``TenantRowSource``), for bulk jobs.
///
/// SQLKit decodes every value through `Codable` (`PostgresDataDecoder`); a bill run of a million households spent most of
/// the client's CPU there. This reader takes each cell's bytes as text or a big-endian integer, the only two shapes
/// Courtyard's tables hold, and refuses anything else as a corrupt row. Each call leases a pooled connection.
public final class PostgresTenantReader: DirectTenantReader {
    public let scope: TenantScope
    private let client: PostgresClient
    private let logger: Logger

    /// `nil` when the database is not PostgreSQL, or was opened without the bulk fast paths (``FastPaths/bulk``).
    public init?(database: Database, scope: TenantScope) {
        guard let client = database.postgresClient, database.fastPaths.bulk else { return nil }
        self.scope = scope
        self.client = client
        self.logger = database.logger
    }

    static func placeholder(_ position: Int) -> String { "$\(position)" }

    func collect<T: Sendable>(
        _ sql: String, _ parameters: [String], columns: RawColumns, table: String,
        _ transform: @Sendable @escaping (RowReader) throws -> T
    ) async throws -> [T] {
        var binds = PostgresBindings(capacity: parameters.count)
        for parameter in parameters { try binds.append(parameter) }
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        do {
            return try await client.withConnection { connection in
                var results: [T] = []
                var values: [StorageValue] = []
                for try await row in try await connection.query(query, logger: logger) {
                    values.removeAll(keepingCapacity: true)
                    for cell in row { values.append(try Self.value(of: cell, table: table)) }
                    results.append(try transform(RowReader(.values(values, columns), table: table)))
                }
                return results
            }
        } catch {
            throw StorageError.classify(error) ?? error
        }
    }

    /// A cell as Courtyard stores values: text (`text`, `varchar`), an integer (`bigint`, `integer`, `smallint`), or NULL.
    static func value(of cell: PostgresCell, table: String) throws -> StorageValue {
        guard var bytes = cell.bytes else { return .null }
        if cell.format == .text {
            let text = bytes.readString(length: bytes.readableBytes) ?? ""
            switch cell.dataType {
            case .int8, .int4, .int2:
                guard let number = Int64(text) else { throw StorageError.corruptRow(table: table, column: cell.columnName) }
                return .integer(number)
            default: return .text(text)
            }
        }
        switch cell.dataType {
        case .text, .varchar, .bpchar, .name:
            return .text(bytes.readString(length: bytes.readableBytes) ?? "")
        case .int8:
            guard bytes.readableBytes == 8, let number = bytes.readInteger(as: Int64.self) else { break }
            return .integer(number)
        case .int4:
            guard bytes.readableBytes == 4, let number = bytes.readInteger(as: Int32.self) else { break }
            return .integer(Int64(number))
        case .int2:
            guard bytes.readableBytes == 2, let number = bytes.readInteger(as: Int16.self) else { break }
            return .integer(Int64(number))
        default: break
        }
        throw StorageError.corruptRow(table: table, column: cell.columnName)
    }
}
