import ArgumentParser
import CourtyardBilling
import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import Foundation
import Logging
import SQLKit

/// `courtyard bench bill-run`: a simulated community billed for one month, against the raw-insert floor of the same rows.
struct BillRunBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bill-run",
        abstract: "Simulate N households, bill a month (bills, then ledger postings), and insert the same rows again as the floor.")

    @OptionGroup var target: BenchEngineOptions
    var engine: String { target.engine }
    var postgresURL: String { target.postgresURL }
    @Option(help: "Households.") var households: Int = 100_000
    @Option(help: "The month billed.") var period: String = "2026-10"
    @Option(help: "Houses per chunk (one read of facts and one write transaction each).") var chunk: Int = 1_000
    @Flag(help: "Skip the ledger posting phase.") var skipPosting = false
    @Flag(
        help: ArgumentHelp(
            "Post each chunk's bills to the ledger inside the timed run, as a real run does, and measure the run against the raw-insert floor of all the rows it writes: bills, lines, ledger entries, accounts and balances (no separate posting phase)."
        ))
    var postInRun = false
    @Option(
        help: ArgumentHelp(
            "A simulated community to bill a copy of instead of simulating again (a million households take a minute and a half to simulate on SQLite, far longer on PostgreSQL). SQLite: a file, made by the first run that names it. PostgreSQL: a database on the same server, cloned as a template (fill it once, e.g. from a kept SQLite file; see docs/PERFORMANCE.md).",
            valueName: "file or database"))
    var simulated: String?

    func run() async throws {
        target.bootstrapLogging()
        guard let month = BillingPeriod(period), month.cycle == .monthly else { throw CommandFailure(description: "--period must be a month") }
        // The ledger rows' floor copies by rowid, which only SQLite has.
        guard !postInRun || engine == "sqlite" else {
            throw CommandFailure(description: "--post-in-run is measured on SQLite only (its floor copies rows by rowid)")
        }
        let logger = Logger(label: "courtyard.bench")
        // A PostgreSQL template must exist already; a SQLite file is made by this run when missing.
        let reuse = simulated.map { engine == "postgres" || FileManager.default.fileExists(atPath: $0) } ?? false
        let scratch = try await ScratchDatabase.make(
            engine: engine, postgresURL: postgresURL, logger: logger, copying: reuse ? simulated : nil, fastPaths: target.carefulPaths)
        let database = scratch.database
        do {
            try await Migrator().migrate(database)
            let simulated: CommunitySimulator.Summary
            if reuse {
                simulated = try await Self.community(in: database, households: households)
                print("engine \(engine): billing a copy of \(self.simulated!) (\(households) households)")
            } else {
                let bar = ProgressBar(label: "simulating")
                simulated = try await CommunitySimulator(households: households, period: month).run(database) { bar.update($0, $1) }
                print("engine \(engine): simulated \(households) households (\(simulated.rows) rows) in \(BenchSupport.format(simulated.seconds)) s")
                if let keep = self.simulated, database.sqlitePath != nil {
                    // A consistent copy from one read transaction. (Copying the main file after a checkpoint is not: a
                    // checkpoint that another connection's snapshot holds back leaves pages in the WAL, and the copy is corrupt.)
                    try await database.read { db in try await db.raw("VACUUM INTO \(bind: keep)").run() }
                }
            }

            // The clock stands after the month, so the run is allowed.
            let clock = FixedClock(month.end.adding(days: 1))
            BenchSupport.resetPeakRSS()
            let billing = ProgressBar(label: "billing")
            let started = ContinuousClock.now
            let cpuStarted = BenchSupport.cpuSeconds()
            let summary = try await BillRunner(
                database: database, ledger: postInRun ? LedgerWriter(database: database) : nil, clock: clock,
                chunkSize: chunk
            )
            .run(
                companyId: simulated.companyId, communityId: simulated.communityId, period: period, preview: false, actor: "bench",
                progress: { billing.update($0, $1) })
            let billSeconds = (ContinuousClock.now - started).seconds
            let billCPU = BenchSupport.cpuSeconds() - cpuStarted
            let billRSS = BenchSupport.peakRSS()
            print(
                "bills: \(summary.billsCreated) bills, \(summary.linesCreated) lines, total \(summary.totalAmount) in \(BenchSupport.format(billSeconds)) s (\(Int(Double(households) / billSeconds)) households/s, \(Int(Double(summary.linesCreated) / billSeconds)) lines/s), peak RSS \(billRSS / 1_048_576) MiB, CPU \(BenchSupport.format(billCPU)) s"
            )

            var postSeconds = 0.0
            var posted = 0
            if !skipPosting && !postInRun {
                let postStart = ContinuousClock.now
                let repeatRun = try await BillRunner(database: database, ledger: LedgerWriter(database: database), clock: clock, chunkSize: chunk)
                    .run(companyId: simulated.companyId, communityId: simulated.communityId, period: period, preview: false, actor: "bench")
                postSeconds = (ContinuousClock.now - postStart).seconds
                posted = repeatRun.billsPosted
                print(
                    "ledger posting: \(posted) bills (\(summary.linesCreated) transfers) in \(BenchSupport.format(postSeconds)) s (\(Int(Double(summary.linesCreated) / postSeconds)) transfers/s); the rerun created \(repeatRun.linesCreated) lines"
                )
            }

            var floorSeconds = try await BillingFloor.measure(database, companyId: simulated.companyId, chunk: chunk)
            var rows = summary.billsCreated + summary.linesCreated
            var ledgerCopySeconds = 0.0
            if postInRun {
                posted = summary.billsPosted
                print("posted in the run: \(posted) bills")
                // The floor of the ledger rows, like that of the bills and lines: the same rows bound to prepared statements.
                let ledger = try await InsertFloor.reinsert(database, tables: BillingFloor.ledgerTables, perTransaction: chunk * 5)
                print("raw-insert floor of the ledger rows: \(ledger.rows) rows in \(BenchSupport.format(ledger.seconds)) s")
                // For comparison with earlier notes: the same rows copied inside SQLite (INSERT … SELECT, nothing bound).
                ledgerCopySeconds = try await BillingFloor.measureLedger(database, perTransaction: chunk * 5).seconds
                print("the same rows copied inside SQLite (INSERT … SELECT): \(BenchSupport.format(ledgerCopySeconds)) s")
                floorSeconds += ledger.seconds
                rows += ledger.rows
            }
            print("raw-insert floor: the same \(rows) rows in \(BenchSupport.format(floorSeconds)) s (\(Int(Double(rows) / floorSeconds)) rows/s)")
            print("")
            print("| engine | households | bills | lines | bill run s | households/s | lines/s | floor s | ratio | posting s | peak RSS MiB |")
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            print(
                "| \(engine) | \(households) | \(summary.billsCreated) | \(summary.linesCreated) | \(BenchSupport.format(billSeconds)) | \(Int(Double(households) / billSeconds)) | \(Int(Double(summary.linesCreated) / billSeconds)) | \(BenchSupport.format(floorSeconds)) | \(BenchSupport.format(billSeconds / floorSeconds)) | \(BenchSupport.format(postSeconds)) | \(billRSS / 1_048_576) |"
            )
            let json: [String: Any] = [
                "benchmark": "bill-run", "engine": engine, "households": households, "bills": summary.billsCreated,
                "lines": summary.linesCreated, "bill_run_seconds": (billSeconds * 1000).rounded() / 1000,
                "households_per_second": Int(Double(households) / billSeconds), "lines_per_second": Int(Double(summary.linesCreated) / billSeconds),
                "floor_seconds": (floorSeconds * 1000).rounded() / 1000, "ratio_to_floor": (billSeconds / floorSeconds * 100).rounded() / 100,
                "posting_seconds": (postSeconds * 1000).rounded() / 1000, "bill_run_cpu_seconds": (billCPU * 1000).rounded() / 1000,
                "bills_posted": posted, "post_in_run": postInRun, "floor_rows": rows,
                "ledger_copy_seconds": (ledgerCopySeconds * 1000).rounded() / 1000, "peak_rss_bytes": billRSS,
                "simulate_seconds": (simulated.seconds * 1000).rounded() / 1000, "git_commit": BenchSupport.gitCommit(),
            ]
            let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } catch {
            await scratch.drop()
            throw error
        }
        await scratch.drop()
    }
}

extension BillRunBench {
    /// The one simulated community of a kept database, which must have `households` houses.
    static func community(in database: Database, households: Int) async throws -> CommunitySimulator.Summary {
        let rows = try await database.read { db in
            try await TenantSQL.sweep(db, "id, (SELECT COUNT(*) FROM houses) AS houses", from: "communities", where: "1 = 1")
        }
        guard rows.count == 1 else { throw CommandFailure(description: "--simulated: the file holds \(rows.count) communities, not one") }
        let found = try rows[0].row.decode(column: "houses", as: Int.self)
        guard found == households else { throw CommandFailure(description: "--simulated: the file has \(found) households, not \(households)") }
        return CommunitySimulator.Summary(
            companyId: rows[0].companyId,
            communityId: try rows[0].row.decode(column: "id", as: String.self), households: found,
            buildings: 0, rows: 0, seconds: 0)
    }
}

/// A clock standing still at the start of a local date (UTC), for benchmarks.
struct FixedClock: WallClock {
    let instant: Date
    init(_ date: LocalDate) { instant = Date(timeIntervalSince1970: TimeInterval(date.daysSinceEpoch) * 86_400 + 12 * 3_600) }
    func now() -> Date { instant }
}

/// The floor for a bill run: the same bill and line rows inserted again through the same bulk writer (prepared statements on
/// SQLite, multi-row inserts on PostgreSQL), one transaction per chunk, into copies of the tables that have no indexes and no
/// constraints. Reading them back is not timed.
enum BillingFloor {
    static func measure(_ database: Database, companyId: String, chunk: Int) async throws -> Double {
        try await database.transaction { db in
            for table in ["bench_bills", "bench_bill_lines"] { try await db.raw("DROP TABLE IF EXISTS \(unsafeRaw: table)").run() }
            try await db.raw("CREATE TABLE bench_bills AS SELECT * FROM bills WHERE 1 = 0").run()
            try await db.raw("CREATE TABLE bench_bill_lines AS SELECT * FROM bill_lines WHERE 1 = 0").run()
        }
        let scope = TenantScope(companyId: companyId)
        var elapsed = Duration.zero
        let writer = try BulkWriter(database: database, scope: scope)
        var cursor: String? = nil
        repeat {
            let page = try await database.read { [cursor] db in
                let store = ScopedStore(db, scope: scope)
                let bills = try await store.list(Bill.self, after: cursor, limit: chunk)
                let lines = try await store.all(BillLine.self, where: "bill_id", in: bills.items.map(\.id))
                return (bills, lines)
            }
            cursor = page.0.nextCursor
            let start = ContinuousClock.now
            try await writer.write([.init(page.0.items, into: "bench_bills"), .init(page.1, into: "bench_bill_lines")])
            elapsed += ContinuousClock.now - start
        } while cursor != nil
        return elapsed.seconds
    }

    /// The ledger rows a run wrote (entries, accounts, balances), copied inside SQLite into copies without indexes or
    /// constraints, `perTransaction` rows per transaction: `INSERT … SELECT` by rowid range, nothing bound. Printed for
    /// comparison only (the floor binds the rows, as every other floor does: ``InsertFloor/reinsert(_:tables:perTransaction:)``).
    /// SQLite only (`run` refuses `--post-in-run` elsewhere).
    /// The ledger's tables a bill run writes to.
    static let ledgerTables = ["ledger_entries", "ledger_accounts", "ledger_balances"]

    static func measureLedger(_ database: Database, perTransaction: Int) async throws -> (rows: Int, seconds: Double) {
        let tables = ledgerTables
        try await database.transaction { db in
            for table in tables {
                try await db.raw("DROP TABLE IF EXISTS \(unsafeRaw: "bench_" + table)").run()
                try await db.raw("CREATE TABLE \(unsafeRaw: "bench_" + table) AS SELECT * FROM \(unsafeRaw: table) WHERE 1 = 0").run()
            }
        }
        var rows = 0
        var elapsed = Duration.zero
        for table in tables {
            let last = try await database.read { db in
                try await db.raw("SELECT COALESCE(MAX(rowid), 0) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
            }
            rows += try await database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
            }
            let start = ContinuousClock.now
            for first in stride(from: 0, through: last, by: perTransaction) {
                try await database.transaction { db in
                    try await db.raw(
                        """
                        INSERT INTO \(unsafeRaw: "bench_" + table) SELECT * FROM \(unsafeRaw: table)
                        WHERE rowid > \(unsafeRaw: String(first)) AND rowid <= \(unsafeRaw: String(first + perTransaction))
                        """
                    ).run()
                }
            }
            elapsed += ContinuousClock.now - start
        }
        return (rows, elapsed.seconds)
    }
}
