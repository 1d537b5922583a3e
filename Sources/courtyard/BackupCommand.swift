import ArgumentParser
import CourtyardLedger
import CourtyardSQLite
import CourtyardStorage
import Foundation
import Logging
import NIOPosix

/// `courtyard backup`: a consistent copy of a database while it serves.
///
/// SQLite: the online backup API copies every page in one step inside one read transaction, so writers go on and none
/// of their commits is half in the copy. PostgreSQL: `pg_dump --format=custom` (one snapshot, also without stopping
/// anyone). Either way the copy is checked before the command says it is done: `courtyard ledger verify` on the copy
/// (SQLite), or `pg_restore --list` reading the archive back (PostgreSQL).
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a database while it serves: SQLite's online backup, or pg_dump on PostgreSQL; never overwrites a file.")
    @OptionGroup var options: DatabaseOptions
    @Option(name: .long, help: "The backup file to write (it must not exist).")
    var to: String

    func run() async throws {
        _ = options.bootstrapLogging()
        guard !FileManager.default.fileExists(atPath: to) else { throw CommandFailure(description: "\(to) exists; a backup never overwrites a file") }
        let started = ContinuousClock.now
        switch try Database.Location(parsing: options.database) {
        case .sqliteFile(let path):
            guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure(description: "no database at \(path)") }
            let target = to
            try await NIOThreadPool.singleton.runIfActive {
                try RawSQLite(path: path, cacheKiB: 8_192).backup(to: target)
            }
            let copy = try await Database.open(to, logger: Logger(label: "courtyard.backup"))
            let report = try await LedgerAudit.verify(copy)
            await copy.close()
            if let divergence = report.divergence {
                throw CommandFailure(description: "the copy at \(to) does not verify: \(divergence)")
            }
            print("Backed up \(path) to \(to) in \(ContinuousClock.now - started); the copy verifies (\(report.entries) journal entries).")
        case .postgres:
            try Self.runTool("pg_dump", ["--format=custom", "--no-owner", "--file=\(to)", options.database])
            try Self.runTool("pg_restore", ["--list", to], quiet: true)
            print("Backed up \(try Database.Location(parsing: options.database).redacted) to \(to) with pg_dump in \(ContinuousClock.now - started).")
        }
    }

    /// Runs a PostgreSQL client tool; its own error output goes to standard error, and a non-zero exit fails the command.
    static func runTool(_ name: String, _ arguments: [String], quiet: Bool = false) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        if quiet { process.standardOutput = FileHandle.nullDevice }
        do { try process.run() } catch { throw CommandFailure(description: "cannot run \(name): \(error)") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CommandFailure(description: "\(name) exited with status \(process.terminationStatus)") }
    }
}

/// `courtyard restore`: a backup back into a new database, checked before it is called done.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a backup into a new SQLite file or an empty PostgreSQL database, then verify the ledger.")
    @OptionGroup var options: DatabaseOptions
    @Option(name: .long, help: "The backup file (from courtyard backup).")
    var from: String

    func run() async throws {
        let logger = options.bootstrapLogging()
        guard FileManager.default.fileExists(atPath: from) else { throw CommandFailure(description: "no backup at \(from)") }
        let started = ContinuousClock.now
        switch try Database.Location(parsing: options.database) {
        case .sqliteFile(let path):
            guard !FileManager.default.fileExists(atPath: path) else {
                throw CommandFailure(description: "\(path) exists; restore into a new file and swap it in while the server is stopped")
            }
            try FileManager.default.copyItem(atPath: from, toPath: path)
        case .postgres:
            try Backup.runTool("pg_restore", ["--no-owner", "--exit-on-error", "--dbname=\(options.database)", from])
        }
        let database = try await Database.open(options.database, logger: logger, fastPaths: options.carefulPaths)
        let version = try await Migrator().currentVersion(database)
        let report = try await LedgerAudit.verify(database)
        await database.close()
        if let divergence = report.divergence {
            throw CommandFailure(description: "the restored database does not verify: \(divergence)")
        }
        print(
            "Restored \(from) into \(try Database.Location(parsing: options.database).redacted) in \(ContinuousClock.now - started): schema version \(version), \(report.entries) journal entries verified."
        )
    }
}
