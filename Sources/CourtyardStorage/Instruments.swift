import Metrics

/// The metrics the storage writers and their callers report, by name, so every module records the same instrument
/// under the same label. They go wherever `MetricsSystem` was bootstrapped (the server's Prometheus registry, rendered on
/// `/metrics`); without a bootstrap (tests, one-off commands) they cost nothing.
///
/// Tracing that used to be printed behind `*_TRACE` variables is now swift-log events at debug or trace level on the
/// component's logger (`--log-level trace` shows them).
public enum Instruments {
    /// Ledger batches committed, by path (`pipelined`, `sequential`, `rerun`).
    public static func ledgerBatch(path: String, operations: Int, seconds: Duration) {
        Counter(label: "courtyard_ledger_batches_total", dimensions: [("path", path)]).increment()
        Recorder(label: "courtyard_ledger_batch_operations", dimensions: [("path", path)]).record(operations)
        Timer(label: "courtyard_ledger_batch_seconds", dimensions: [("path", path)]).record(duration: seconds)
    }

    /// A PostgreSQL transaction rolled back for a deadlock (`40P01`) or a serialization failure (`40001`) and run
    /// again. Writers take their locks in one order (docs/RELIABILITY.md), so this stays near zero; a rise names a
    /// writer that does not.
    public static func transactionConflict(sqlState: String) {
        Counter(label: "courtyard_db_transaction_conflicts_total", dimensions: [("sqlstate", sqlState)]).increment()
    }

    /// Readings committed by the ingestion writer, by path (`raw` on SQLite's fast path, `careful` through SQLKit).
    public static func readingsWritten(path: String, readings: Int, seconds: Duration) {
        Counter(label: "courtyard_readings_written_total", dimensions: [("path", path)]).increment(by: readings)
        Counter(label: "courtyard_ingest_batches_total", dimensions: [("path", path)]).increment()
        Timer(label: "courtyard_ingest_batch_seconds", dimensions: [("path", path)]).record(duration: seconds)
    }

    /// The share of wall time the ingestion writer's raw thread was busy over its last 200 batches, in percent.
    public static func ingestWriterBusy(percent: Int64) {
        Gauge(label: "courtyard_ingest_writer_busy_percent").record(percent)
    }

    /// Device commands waiting to be sent or acknowledged, and the age of the oldest (seconds).
    public static func commandQueue(depth: Int, oldestSeconds: Int64) {
        Gauge(label: "courtyard_device_commands_pending").record(depth)
        Gauge(label: "courtyard_device_command_oldest_pending_seconds").record(oldestSeconds)
    }

    /// Outbox events not yet delivered, and the age of the oldest (seconds).
    public static func outboxBacklog(events: Int, oldestSeconds: Int64) {
        Gauge(label: "courtyard_outbox_backlog").record(events)
        Gauge(label: "courtyard_outbox_oldest_seconds").record(oldestSeconds)
    }
}
