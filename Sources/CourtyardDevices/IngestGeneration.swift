import CourtyardStorage
import SQLKit

/// Tells the ingestion writer that readings, holds, replacements or presence changed outside it (an approval, a
/// replacement, the presence sweep): call inside the transaction that made the change.
public enum IngestGeneration {
    public static func bump(_ db: any SQLDatabase) async throws {
        try await db.raw("UPDATE ingest_generation SET value = value + 1 WHERE id = 1").run()
    }

    package static func current(_ db: any SQLDatabase) async throws -> Int64 {
        try await db.raw("SELECT value FROM ingest_generation WHERE id = 1").first()?.decode(column: "value", as: Int64.self) ?? 0
    }
}
