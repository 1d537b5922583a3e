import Foundation
import VaporCSQLite

extension RawSQLite {
    /// Copies the whole database into a new file at `path` with SQLite's online backup API, as one consistent snapshot:
    /// the copy is made in a single step inside one read transaction, so writers go on (WAL) and none of their later
    /// commits is half in it. The file at `path` must not exist yet.
    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw Failure(code: SQLITE_CANTOPEN, message: "\(path) exists already; a backup never overwrites a file")
        }
        var destination: OpaquePointer?
        let opened = sqlite_nio_sqlite3_open_v2(path, &destination, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        defer { sqlite_nio_sqlite3_close_v2(destination) }
        guard opened == SQLITE_OK, let destination else {
            throw Failure(code: opened, message: destination.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "cannot open \(path)")
        }
        guard let backup = sqlite_nio_sqlite3_backup_init(destination, "main", handle, "main") else {
            throw Failure(code: sqlite_nio_sqlite3_errcode(destination), message: String(cString: sqlite_nio_sqlite3_errmsg(destination)))
        }
        let stepped = sqlite_nio_sqlite3_backup_step(backup, -1)
        let finished = sqlite_nio_sqlite3_backup_finish(backup)
        guard stepped == SQLITE_DONE, finished == SQLITE_OK else {
            throw Failure(code: stepped == SQLITE_DONE ? finished : stepped, message: String(cString: sqlite_nio_sqlite3_errmsg(destination)))
        }
        // The copy is a database of its own: durable before this returns, and in WAL mode like its source.
        guard sqlite_nio_sqlite3_exec(destination, "PRAGMA journal_mode = WAL", nil, nil, nil) == SQLITE_OK else {
            throw Failure(code: sqlite_nio_sqlite3_errcode(destination), message: String(cString: sqlite_nio_sqlite3_errmsg(destination)))
        }
    }
}
