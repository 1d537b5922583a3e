import CourtyardStorage
import SQLKit

/// Tells the ingestion writer that readings, holds, replacements or presence changed outside it (an approval, a
/// replacement, the presence sweep): call inside the transaction that made the change.
///
/// The one writer of `ingest_generation`; the ingestion writer bumps it too, in every batch (``bumped(_:)``,
/// ``bumpedFast(_:)``), and keeps its memory only while the value is one past its own last bump.
public enum IngestGeneration {
    public static func bump(_ db: any SQLDatabase) async throws {
        try await db.raw("UPDATE ingest_generation SET value = value + 1 WHERE id = 1").run()
    }

    /// Bumps the generation and returns the new value (-1 if the row is missing).
    public static func bumped(_ db: any SQLDatabase) async throws -> Int64 {
        try await db.raw("UPDATE ingest_generation SET value = value + 1 WHERE id = 1 RETURNING value").first()?
            .decode(column: "value", as: Int64.self) ?? -1
    }

    /// ``bumped(_:)`` on the fast path, inside its open transaction; nil if the row is missing.
    public static func bumpedFast(_ connection: any FastConnection) throws -> Int64? {
        let bump = try connection.prepared("UPDATE ingest_generation SET value = value + 1 WHERE id = 1 RETURNING value")
        defer { bump.reset() }
        return try bump.step() ? bump.int64(0) : nil
    }

    /// The generation as the fast path's open transaction sees it; nil if the row is missing.
    public static func currentFast(_ connection: any FastConnection) throws -> Int64? {
        let query = try connection.prepared("SELECT value FROM ingest_generation WHERE id = 1")
        defer { query.reset() }
        return try query.step() ? query.int64(0) : nil
    }

    package static func current(_ db: any SQLDatabase) async throws -> Int64 {
        try await db.raw("SELECT value FROM ingest_generation WHERE id = 1").first()?.decode(column: "value", as: Int64.self) ?? 0
    }
}
