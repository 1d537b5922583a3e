import ArgumentParser
import CourtyardBilling
import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import Foundation
import Logging

/// Which company and community a command acts on.
struct CommunityOptions: ParsableArguments {
    @Option(help: "The company's code.") var company: String = DemoSeeder.companyCode
    @Option(help: "The community's id or code.") var community: String

    /// The company id and community, or a one-sentence failure.
    func resolve(_ database: Database) async throws -> (companyId: String, community: Community) {
        guard let company = try await database.read({ [company] db in try await AccountStore(db).company(code: company) }) else {
            throw CommandFailure(description: "no company with code \(company)")
        }
        let scope = TenantScope(companyId: company.id)
        let found = try await database.read { [community] db in
            let store = ScopedStore(db, scope: scope)
            if let byId = try await store.find(Community.self, id: community) { return Optional(byId) }
            return try await store.list(Community.self, filters: [("code", community)], limit: 1).items.first
        }
        guard let found else { throw CommandFailure(description: "no community \(community) in company \(company.code)") }
        return (company.id, found)
    }
}

/// A one-line progress bar on standard error, redrawn in place; silent when standard error is not a terminal.
struct ProgressBar: Sendable {
    let label: String
    let enabled = isatty(STDERR_FILENO) == 1

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let width = 40
        let filled = min(width, done * width / total)
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(done)/\(total)".utf8))
        if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `courtyard bill …`: bill runs and reminders from the command line.
struct BillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bill", abstract: "Bill runs and reminders.",
        subcommands: [Run.self, Remind.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bill a closed month for every house of a community (idempotent), or preview any month without writing.")
        @OptionGroup var options: DatabaseOptions
        @OptionGroup var target: CommunityOptions
        @Option(help: "The month, e.g. 2026-10.") var period: String
        @Flag(help: "Compute and print the totals; write nothing.") var preview = false

        func run() async throws {
            let logger = options.bootstrapLogging()
            try await options.withDatabase(logger: logger) { database in
                try await Migrator().migrate(database)
                let (companyId, community) = try await target.resolve(database)
                let bar = ProgressBar(label: preview ? "previewing" : "billing")
                let runner = BillRunner(database: database, ledger: LedgerWriter(database: database))
                let started = ContinuousClock.now
                let summary: BillRunSummary
                do {
                    summary = try await runner.run(
                        companyId: companyId, communityId: community.id, period: period, preview: preview,
                        actor: "cli:\(NSUserName())", progress: { bar.update($0, $1) })
                } catch let error as BillRunError {
                    throw CommandFailure(description: "\(error)" + (error.isOpenPeriod ? "; use --preview" : ""))
                }
                if bar.enabled {
                    let seconds = (ContinuousClock.now - started).seconds
                    print(
                        "\(preview ? "Preview of" : "Billed") \(community.name) for \(summary.period): \(summary.billsCreated) bills, \(summary.linesCreated) lines, total \(summary.totalAmount) (\(summary.linesAlreadyBilled) lines were billed before) in \(String(format: "%.1f", seconds)) s"
                    )
                    for item in summary.items { print("  \(item.code) v\(item.standardVersion): \(item.lines) lines, \(item.amount)") }
                    for (reason, count) in summary.skipped.sorted(by: { $0.key < $1.key }) { print("  skipped \(reason): \(count)") }
                    if !summary.itemsWithoutStandard.isEmpty {
                        print("  no standard in force: \(summary.itemsWithoutStandard.joined(separator: ", "))")
                    }
                } else {
                    try printJSON(summary)
                }
            }
        }
    }

    struct Remind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record reminders for bills due soon and overdue (idempotent per day).")
        @OptionGroup var options: DatabaseOptions
        @OptionGroup var target: CommunityOptions
        @Option(help: "The date (default: today in the community's time zone).") var asOf: String?
        @Option(help: "Remind this many days before the due date.") var daysBefore: Int = 3

        func run() async throws {
            let logger = options.bootstrapLogging()
            try await options.withDatabase(logger: logger) { database in
                let (companyId, community) = try await target.resolve(database)
                let date =
                    try asOf.map { text in
                        guard let date = LocalDate(text) else { throw CommandFailure(description: "--as-of must be a date like 2026-11-26") }
                        return date
                    } ?? LocalDate.of(Date(), timeZone: community.timeZone)
                let summary = try await database.transaction { [daysBefore] db in
                    try await BillingActions.remind(
                        ScopedStore(db, scope: TenantScope(companyId: companyId)), communityId: community.id,
                        asOf: date, daysBefore: daysBefore, now: Date())
                }
                try printJSON(summary)
            }
        }
    }
}

/// `courtyard simulate`: a large community dataset for bill runs and benchmarks.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Build a community with N households, fee standards and one month's usage (area fee, TOU electricity, water, gas, 30% parking, lift 公摊).")
    @OptionGroup var options: DatabaseOptions
    @Option(help: "Households to create.") var households: Int = 10_000
    @Option(help: "The month of usage, e.g. 2026-10.") var period: String
    @Option(help: "The company's code (created when missing).") var company: String = "sim"
    @Option(help: "Random seed (same seed, same data).") var seed: UInt64 = 7

    func run() async throws {
        guard let month = BillingPeriod(period), month.cycle == .monthly else {
            throw CommandFailure(description: "--period must be a month like 2026-10")
        }
        guard households > 0 else { throw CommandFailure(description: "--households must be at least 1") }
        let logger = options.bootstrapLogging()
        try await options.withDatabase(logger: logger, create: true) { database in
            try await Migrator().migrate(database)
            let bar = ProgressBar(label: "simulating")
            let summary = try await CommunitySimulator(households: households, period: month, seed: seed, companyCode: company)
                .run(database) { bar.update($0, $1) }
            try printJSON(summary)
        }
    }
}

/// `courtyard usage import`: monthly usage from a CSV file (all rows or none).
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "usage", abstract: "Usage figures.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import monthly usage from CSV: columns subject_kind, subject_id, usage_kind, period, quantity[, windows, estimated].",
            discussion:
                "windows are written peak=120;valley=133.4 and must add up to quantity. Every row is checked first; on any error nothing is written and each error names its line. Rows equal to the stored figure are skipped."
        )
        @OptionGroup var options: DatabaseOptions
        @OptionGroup var target: CommunityOptions
        @Option(help: "The CSV file.") var file: String

        func run() async throws {
            let logger = options.bootstrapLogging()
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure(description: "cannot read \(file) as UTF-8 text")
            }
            try await options.withDatabase(logger: logger) { database in
                try await Migrator().migrate(database)
                let (companyId, community) = try await target.resolve(database)
                let summary: UsageImport.Summary
                do {
                    summary = try await database.transaction { db in
                        try await UsageImport(
                            store: ScopedStore(db, scope: TenantScope(companyId: companyId)), communityId: community.id,
                            now: Date()
                        ).run(csv: text)
                    }
                } catch UsageImport.Failure.problems(let problems) {
                    for problem in problems.prefix(50) { FileHandle.standardError.write(Data("\(file): \(problem)\n".utf8)) }
                    throw CommandFailure(description: "\(problems.count) problem(s); nothing was imported")
                }
                try printJSON(summary)
            }
        }
    }
}

extension BillRunError {
    var isOpenPeriod: Bool {
        if case .periodNotClosed = self { return true }
        return false
    }
}

extension DatabaseOptions {
    /// Opens the database, runs `body`, and closes it whether `body` returns or throws.
    /// `create` for the commands that make a database (the simulator); the others need an existing one.
    func withDatabase<T>(logger: Logger, create: Bool = false, _ body: (Database) async throws -> T) async throws -> T {
        let database =
            create ? try await Database.open(self.database, logger: logger, fastPaths: carefulPaths) : try await openExisting(logger: logger)
        do {
            let result = try await body(database)
            await database.close()
            return result
        } catch {
            await database.close()
            throw error
        }
    }
}
