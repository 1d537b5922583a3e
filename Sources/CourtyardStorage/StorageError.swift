import CourtyardSQLite
import PostgresNIO
import SQLiteNIO

/// Why a storage operation did not happen.
///
/// Driver errors are translated into these cases at the storage boundary so
/// that the layers above never see SQLite- or PostgreSQL-specific errors.
public enum StorageError: Error, Equatable, Sendable {
    /// No row with this id exists within the caller's tenant scope.
    case notFound(table: String, id: String)
    /// A write named a company or community outside the caller's scope.
    case outOfScope
    /// A unique constraint refused the write (e.g. two houses with one number).
    case alreadyExists(detail: String)
    /// A referenced row does not exist, or a row is still referenced by others.
    case referenceViolation(detail: String)
    /// A check constraint refused the write.
    case checkViolation(detail: String)
    /// The database holds a schema newer than this binary understands.
    case schemaTooNew(databaseVersion: Int, binaryVersion: Int)
    /// An applied migration no longer matches the migration of the same version in this binary.
    case migrationChanged(version: Int)
    /// The `--database` value is neither a file path nor a valid `postgres://` URL.
    case invalidDatabaseLocation(String)
    /// A stored value could not be read back (corrupt or hand-edited row).
    case corruptRow(table: String, column: String)
    /// A fast path was asked of an engine that has none (the writers ask only on SQLite).
    case noFastPath(engine: String)

    /// Maps a driver error to a storage error when it is a constraint failure; returns `nil` otherwise.
    public static func classify(_ error: any Error) -> StorageError? {
        if let error = error as? StorageError { return error }
        if let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] {
            let detail = error.serverInfo?[.constraintName] ?? error.serverInfo?[.message] ?? state
            switch state {
            case "23505": return .alreadyExists(detail: detail)
            case "23503": return .referenceViolation(detail: detail)
            case "23514": return .checkViolation(detail: detail)
            default: return nil
            }
        }
        if let error = error as? RawSQLite.Failure {
            let message = error.message
            if message.contains("UNIQUE constraint failed") { return .alreadyExists(detail: message) }
            if message.contains("FOREIGN KEY constraint failed") { return .referenceViolation(detail: message) }
            if message.contains("CHECK constraint failed") { return .checkViolation(detail: message) }
        }
        if let error = error as? SQLiteError {
            let message = error.message
            if message.contains("UNIQUE constraint failed") { return .alreadyExists(detail: message) }
            if message.contains("FOREIGN KEY constraint failed") { return .referenceViolation(detail: message) }
            if message.contains("CHECK constraint failed") { return .checkViolation(detail: message) }
        }
        return nil
    }
}
