import ArgumentParser
import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import Foundation
import Logging
import SQLKit

/// `courtyard bench …`: measured performance of hot paths (release builds only give meaningful figures).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (build with -c release).",
        subcommands: [
            LedgerBench.self, LedgerApplyBench.self, BillRunBench.self, IngestBench.self, PrepaidBench.self,
            PaymentBench.self,
        ])
}

/// Transfers per second through the group-commit ledger writer, against a raw-insert floor measured in the same run.
struct LedgerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Batched transfers between random wallets of many houses; prints a table and a JSON line.")

    @OptionGroup var target: BenchEngineOptions
    var engine: String { target.engine }
    var postgresURL: String { target.postgresURL }
    @Option(help: "Houses (each gets a funded wallet).") var houses: Int = 100_000
    @Option(help: "Transfers per measured run.") var transfers: Int = 1_000_000
    // 384 submitters × 256 operations keep two 49,152-operation batches in flight, so the SQLite writer can apply one
    // while it commits the other.
    @Option(help: "Concurrent submitters.") var concurrency: Int = 384
    @Option(help: "Operations per submission.") var batch: Int = 256
    @Option(help: "Measured runs (the median is reported).") var runs: Int = 3
    @Option(help: "Most operations the writer puts in one transaction.") var maxBatch: Int = 49_152

    func run() async throws {
        target.bootstrapLogging()
        let logger = Logger(label: "courtyard.bench")
        let scratch = try await ScratchDatabase.make(engine: engine, postgresURL: postgresURL, logger: logger, fastPaths: target.carefulPaths)
        let database = scratch.database
        do {
            try await Migrator().migrate(database)
            let setupStart = ContinuousClock.now
            let (companyId, community, houseIds) = try await seed(database, houses: houses)
            let writer = LedgerWriter(database: database, maxBatch: maxBatch)
            let fundingStart = ContinuousClock.now
            let cash = AccountKey.community(community, .clearing, purpose: "bank")
            for part in houseIds.chunked(4_096) {
                let outcomes = try await writer.submit(
                    companyId: companyId,
                    part.map { house in
                        .transfer(
                            Transfer(
                                id: "fund-\(house)", debit: cash, credit: .wallet(community, house: house, purpose: "general"),
                                amount: 100_000_000, code: .topUp, actor: "bench"))
                    })
                guard outcomes.allSatisfy({ (try? $0.get()) != nil }) else { throw CommandFailure(description: "funding failed") }
            }
            let fundingSeconds = (ContinuousClock.now - fundingStart).seconds
            print(
                "engine \(engine): \(houses) houses seeded in \(format((fundingStart - setupStart).seconds)) s; \(houses) wallets opened and funded in \(format(fundingSeconds)) s (\(Int(Double(houses) / fundingSeconds)) transfers/s)"
            )

            var transferRates: [Double] = []
            var floorRates: [Double] = []
            var random = SystemRandomNumberGenerator()
            for run in 1...runs {
                // Build the workload first, so only the ledger is timed.
                let operations: [LedgerOperation] = (0..<transfers).map { index in
                    let from = houseIds[Int.random(in: 0..<houseIds.count, using: &random)]
                    var to = houseIds[Int.random(in: 0..<houseIds.count, using: &random)]
                    if to == from { to = houseIds[(houseIds.firstIndex(of: from)! + 1) % houseIds.count] }
                    return .transfer(
                        Transfer(
                            id: "r\(run)-\(index)", debit: .wallet(community, house: from, purpose: "general"),
                            credit: .wallet(community, house: to, purpose: "general"),
                            amount: Int64.random(in: 1...100, using: &random), code: .walletTransfer, actor: "bench"))
                }
                let submissions = operations.chunked(batch)
                let cpuStart = BenchSupport.processCPUSeconds()
                let start = ContinuousClock.now
                try await withThrowingTaskGroup(of: Int.self) { group in
                    let lanes = max(1, concurrency)
                    for lane in 0..<lanes {
                        group.addTask {
                            var failed = 0
                            var index = lane
                            while index < submissions.count {
                                let outcomes = try await writer.submit(companyId: companyId, submissions[index])
                                failed += outcomes.filter { if case .failure = $0 { return true } else { return false } }.count
                                index += lanes
                            }
                            return failed
                        }
                    }
                    var failures = 0
                    for try await failed in group { failures += failed }
                    if failures > 0 { throw CommandFailure(description: "\(failures) transfers failed") }
                }
                let seconds = (ContinuousClock.now - start).seconds
                let cpuSeconds = BenchSupport.processCPUSeconds() - cpuStart
                transferRates.append(Double(transfers) / seconds)
                let floorSeconds = try await InsertFloor.measure(database, rows: transfers, perTransaction: maxBatch, tag: "r\(run)")
                floorRates.append(Double(transfers) / floorSeconds)
                print(
                    "run \(run): \(transfers) transfers in \(format(seconds)) s = \(Int(Double(transfers) / seconds)) transfers/s; raw-insert floor \(Int(Double(transfers) / floorSeconds)) rows/s; CPU \(format(cpuSeconds)) s (\(format(cpuSeconds / seconds)) cores busy, \(format(cpuSeconds * 1e6 / Double(transfers))) µs per transfer)"
                )
            }
            let verifyStart = ContinuousClock.now
            let report = try await LedgerAudit.verify(database)
            let verifySeconds = (ContinuousClock.now - verifyStart).seconds
            guard report.isValid else { throw CommandFailure(description: "verify failed: \(report.divergence!)") }
            let median = transferRates.sorted()[transferRates.count / 2]
            let floor = floorRates.sorted()[floorRates.count / 2]
            print("")
            print("| engine | houses | transfers/run | runs | median transfers/s | median floor rows/s | ratio | verify |")
            print("|---|---|---|---|---|---|---|---|")
            print(
                "| \(engine) | \(houses) | \(transfers) | \(runs) | \(Int(median)) | \(Int(floor)) | \(format(median / floor)) | \(report.entries) entries in \(format(verifySeconds)) s |"
            )
            let json: [String: Any] = [
                "benchmark": "ledger", "engine": engine, "houses": houses, "transfers_per_run": transfers, "runs": runs,
                "concurrency": concurrency, "batch": batch, "max_batch": maxBatch, "transfers_per_second": Int(median),
                "transfers_per_second_runs": transferRates.map { Int($0) }, "floor_rows_per_second": Int(floor),
                "ratio_to_floor": (median / floor * 1000).rounded() / 1000, "funding_transfers_per_second": Int(Double(houses) / fundingSeconds),
                "verify_seconds": (verifySeconds * 1000).rounded() / 1000, "verified_entries": report.entries,
                "peak_rss_bytes": peakRSS(), "git_commit": gitCommit(),
            ]
            let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } catch {
            await scratch.drop()
            throw error
        }
        await scratch.drop()
    }

    /// A company, one community and `houses` houses, inserted directly.
    func seed(_ database: Database, houses: Int) async throws -> (String, String, [String]) {
        let now = Date()
        let companyId = Identifier.uuidV7(at: now)
        let community = Identifier.uuidV7(at: now)
        let building = Identifier.uuidV7(at: now)
        let ms = now.epochMilliseconds
        let houseIds = (0..<houses).map { _ in Identifier.uuidV7(at: now) }
        try await database.transaction { db in
            try await AccountStore(db).insert(
                Company(
                    id: companyId, code: "bench-\(companyId.suffix(6))", name: "Bench", currency: .cny,
                    createdAt: now, updatedAt: now))
            let store = ScopedStore(db, scope: TenantScope(companyId: companyId))
            try await store.insert(
                Community(
                    id: community, companyId: companyId, code: "B", name: "Bench", timeZone: "Asia/Shanghai",
                    currency: .cny, address: nil, createdAt: now, updatedAt: now))
            try await store.insert(
                Building(
                    id: building, companyId: companyId, communityId: community, name: "1", floors: nil,
                    createdAt: now, updatedAt: now))
            for (chunkIndex, part) in houseIds.chunked(500).enumerated() {
                let insert = db.insert(into: "houses").columns(House.columns)
                for (offset, id) in part.enumerated() {
                    insert.values(
                        SQLBind(id), SQLBind(companyId), SQLBind(community), SQLBind(building), SQLLiteral.null,
                        SQLBind("H\(chunkIndex * 500 + offset)"), SQLLiteral.null, SQLBind(Int64(9000)), SQLBind(Int64(7500)),
                        SQLBind("residential"), SQLBind("occupied"), SQLBind(ms), SQLBind(ms))
                }
                try await insert.run()
            }
        }
        return (companyId, community, houseIds)
    }

    func format(_ value: Double) -> String { BenchSupport.format(value) }
    func peakRSS() -> Int { BenchSupport.peakRSS() }
    func gitCommit() -> String { BenchSupport.gitCommit() }
}

/// Which engine a benchmark runs on; a scratch database is made there and dropped afterwards.
struct BenchEngineOptions: ParsableArguments {
    @Option(help: "sqlite or postgres.") var engine: String = "sqlite"
    @Option(help: "Log level on standard error: trace shows the writers' per-batch timings, debug the bill run's steps.")
    var logLevel: Logger.Level = .error

    /// Sends log events at `logLevel` and above to standard error (a benchmark's figures go to standard output).
    func bootstrapLogging() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
    @Option(help: "PostgreSQL admin URL (a scratch database is created and dropped). Env: COURTYARD_BENCH_POSTGRES_URL.")
    var postgresURL: String = ProcessInfo.processInfo.environment["COURTYARD_BENCH_POSTGRES_URL"] ?? ""
    @Option(help: FastPaths.optionHelp) var carefulPaths: FastPaths = .all
}

/// Helpers shared by the benchmarks.
enum BenchSupport {
    static func format(_ value: Double) -> String { String(format: "%.2f", value) }

    /// CPU time (user + system) this process has used so far, in seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The process's peak resident set size (VmHWM), in bytes.
    static func peakRSS() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes * 1024
    }

    /// CPU seconds (user + system, all threads) this process has used so far: a phase's CPU is the difference, which
    /// varies less from run to run on a shared machine than its wall time.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Resets the peak RSS counter (Linux: `5` to /proc/self/clear_refs), so a phase can be measured on its own.
    static func resetPeakRSS() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func gitCommit() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "--short", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A throwaway database for a benchmark: a SQLite file in a temporary folder, or a scratch PostgreSQL database.
struct ScratchDatabase {
    let database: Database
    let cleanUp: @Sendable () async -> Void

    /// A new scratch database; `copying` names one to start from, never changed itself: on SQLite a file (copied), on
    /// PostgreSQL a database on the same server (cloned with `CREATE DATABASE … TEMPLATE`).
    static func make(
        engine: String, postgresURL: String, logger: Logger, copying seed: String? = nil, fastPaths: FastPaths = .all
    ) async throws -> ScratchDatabase {
        switch engine {
        case "sqlite":
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("courtyard-bench-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            if let seed { try FileManager.default.copyItem(atPath: seed, toPath: folder.appendingPathComponent("bench.sqlite").path) }
            let database = try await Database.open(folder.appendingPathComponent("bench.sqlite").path, logger: logger, fastPaths: fastPaths)
            return ScratchDatabase(database: database) {
                await database.close()
                try? FileManager.default.removeItem(at: folder)
            }
        case "postgres":
            guard !postgresURL.isEmpty, var components = URLComponents(string: postgresURL) else {
                throw CommandFailure(description: "--postgres-url (or COURTYARD_BENCH_POSTGRES_URL) is required for --engine postgres")
            }
            let name = "courtyard_bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            let admin = try await Database.open(postgresURL, logger: logger, fastPaths: fastPaths)
            let template = seed.map { " TEMPLATE \"\($0.replacingOccurrences(of: "\"", with: ""))\"" } ?? ""
            _ = try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: name)\(unsafeRaw: template)").run() }
            components.path = "/" + name
            let database = try await Database.open(components.string!, logger: logger, fastPaths: fastPaths)
            return ScratchDatabase(database: database) {
                await database.close()
                _ = try? await admin.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                await admin.close()
            }
        default:
            throw CommandFailure(description: "--engine must be sqlite or postgres")
        }
    }

    func drop() async { await cleanUp() }
}

/// The pure ledger rules alone: transfers applied to an in-memory `LedgerState`, no database (the pipeline's apply stage).
struct LedgerApplyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-apply",
        abstract: "Transfers between random wallets applied in memory only; prints transfers/s.")

    @Option(help: "Houses (each gets a funded wallet).") var houses: Int = 100_000
    @Option(help: "Transfers per batch.") var transfers: Int = 32_768
    @Option(help: "Batches (the median is reported).") var runs: Int = 10

    func run() async throws {
        let community = "bench-community"
        var state = LedgerState(companyId: "bench-company")
        state.communityCurrency[community] = "CNY"
        state.heads[community] = ChainHead(communityId: community, sequence: 0, hash: JournalEntry.genesisHash)
        let wallets = (0..<houses).map { AccountKey.wallet(community, house: "house-\($0)", purpose: "general") }
        for wallet in wallets {
            state.accounts[wallet.id] = Account(key: wallet, currency: "CNY", creditsPosted: 100_000_000)
        }
        var random = SystemRandomNumberGenerator()
        var rates: [Double] = []
        for run in 1...runs {
            let operations: [LedgerOperation] = (0..<transfers).map { index in
                let from = Int.random(in: 0..<houses, using: &random)
                let to = (from + Int.random(in: 1..<houses, using: &random)) % houses
                return .transfer(
                    Transfer(
                        id: "a\(run)-\(index)", debit: wallets[from], credit: wallets[to],
                        amount: Int64.random(in: 1...100, using: &random), code: .walletTransfer, actor: "bench"))
            }
            let digests = operations.map(\.contentDigest)
            state.startBatch()
            let start = ContinuousClock.now
            var failed = 0
            for (operation, digest) in zip(operations, digests) {
                if case .failure = state.apply(operation, at: 1_790_000_000_000, digest: digest) { failed += 1 }
            }
            let seconds = (ContinuousClock.now - start).seconds
            guard failed == 0 else { throw CommandFailure(description: "\(failed) transfers failed") }
            rates.append(Double(transfers) / seconds)
        }
        let median = rates.sorted()[rates.count / 2]
        print("ledger apply: \(transfers) transfers per batch, median \(Int(median)) transfers/s (\(BenchSupport.format(1e6 / median)) µs each)")
    }
}
