import Foundation
import VaporCSQLite

/// Copies the SQLite write-ahead log back into the database file on a background thread.
///
/// SQLite's default auto-checkpoint runs inside the `COMMIT` of whichever
/// connection pushes the log past 1,000 pages, so a large group commit would
/// also pay for copying its pages a second time and syncing the database file.
/// The raw write paths turn auto-checkpoint off and ``nudge()`` this instead
/// after each commit: a PASSIVE checkpoint on its own connection, which never
/// blocks the writer or readers, at most one at a time. Durability is unchanged:
/// a committed transaction is durable once its WAL frames are synced.
final class WALCheckpointer: @unchecked Sendable {
    // @unchecked Sendable: `handle` is only touched on `queue`; `running` only under `lock`.
    private let path: String
    private let queue = DispatchQueue(label: "courtyard.sqlite.checkpoint")
    private let lock = NSLock()
    private var running = false
    private var handle: OpaquePointer?

    init(path: String) {
        self.path = path
    }

    deinit {
        if let handle { sqlite_nio_sqlite3_close_v2(handle) }
    }

    /// Starts a checkpoint unless one is already running.
    func nudge() {
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
            if handle == nil {
                var opened: OpaquePointer?
                guard sqlite_nio_sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
                    sqlite_nio_sqlite3_close_v2(opened)
                    return
                }
                sqlite_nio_sqlite3_busy_timeout(opened, 5_000)
                handle = opened
            }
            var logPages: Int32 = 0
            var copied: Int32 = 0
            _ = sqlite_nio_sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logPages, &copied)
        }
    }

    /// Waits for a running checkpoint to finish (tests and shutdown).
    func drain() {
        queue.sync {}
    }
}
