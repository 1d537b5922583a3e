import Foundation
import Logging
import Metrics
import VaporCSQLite

/// Copies the SQLite write-ahead log back into the database file on a background thread.
///
/// SQLite's default auto-checkpoint runs inside the `COMMIT` of whichever
/// connection pushes the log past 1,000 pages, so a large group commit would
/// also pay for copying its pages a second time and syncing the database file.
/// The raw write paths turn auto-checkpoint off and ``nudge()`` this instead
/// once their log has grown past ``RawSQLite/checkpointFrames``: a PASSIVE
/// checkpoint on its own connection, which never blocks the writer or readers,
/// at most one at a time. Durability is unchanged: a committed transaction is
/// durable once its WAL frames are synced.
///
/// A passive checkpoint alone never shortens the log while a writer keeps
/// writing: SQLite starts the log over only when a write transaction begins
/// with every frame already copied. So past ``RawSQLite/restartFrames`` the
/// writer calls ``checkpointNow()`` before its next `BEGIN`, which bounds the
/// log under sustained load (see ``RawSQLite/begin()``).
public final class WALCheckpointer: @unchecked Sendable {
    // @unchecked Sendable: `handle` is only touched on `queue`; `running` only under `lock`.
    private let path: String
    private let queue = DispatchQueue(label: "courtyard.sqlite.checkpoint")
    private let lock = NSLock()
    private var running = false
    private var handle: OpaquePointer?

    /// A checkpointer of the database file at `path`; it opens its own connection on first use.
    public init(path: String) {
        self.path = path
    }

    deinit {
        if let handle { sqlite_nio_sqlite3_close_v2(handle) }
    }

    /// Starts a checkpoint unless one is already running.
    public func nudge() {
        lock.lock()
        if running {
            lock.unlock()
            return
        }
        running = true
        lock.unlock()
        queue.async { [self] in
            defer {
                lock.lock()
                running = false
                lock.unlock()
            }
            checkpoint()
        }
    }

    /// Runs a checkpoint now, after any running one, and returns when it is done.
    public func checkpointNow() {
        queue.sync { checkpoint() }
    }

    /// One PASSIVE checkpoint; only ever runs on `queue`.
    private func checkpoint() {
        if handle == nil {
            var opened: OpaquePointer?
            guard sqlite_nio_sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
                sqlite_nio_sqlite3_close_v2(opened)
                return
            }
            sqlite_nio_sqlite3_busy_timeout(opened, 5_000)
            // A connection that has not read the database yet does not know it is in WAL mode, and its checkpoints do
            // nothing (the log and copied counts come back as -1): read the journal mode once first.
            guard sqlite_nio_sqlite3_exec(opened, "PRAGMA journal_mode", nil, nil, nil) == SQLITE_OK else {
                sqlite_nio_sqlite3_close_v2(opened)
                return
            }
            handle = opened
        }
        var logFrames: Int32 = 0
        var copied: Int32 = 0
        let started = ContinuousClock.now
        let result = sqlite_nio_sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied)
        let took = ContinuousClock.now - started
        Gauge(label: "courtyard_sqlite_wal_frames").record(Int(logFrames))
        Counter(label: "courtyard_sqlite_checkpointed_frames_total").increment(by: max(Int(copied), 0))
        Timer(label: "courtyard_sqlite_checkpoint_seconds").record(duration: took)
        Self.logger.trace(
            "checkpoint",
            metadata: [
                "result": "\(result)", "log_frames": "\(logFrames)", "copied": "\(copied)",
                "took": "\(took)",
            ])
    }

    /// Each checkpoint at trace level (`--log-level trace`).
    static let logger = Logger(label: "courtyard.sqlite")

    /// Waits for a running checkpoint to finish (tests and shutdown).
    public func drain() {
        queue.sync {}
    }
}
