import ArgumentParser
import CourtyardLedger
import CourtyardStorage
import Foundation

/// `courtyard ledger …`: tools for the journal.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Ledger tools.",
        subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every hash chain and balance from the journal; report the first divergence (exit 1; exit 2 when it cannot run).")
        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let logger = options.bootstrapLogging()
            let database = try await options.openExisting(logger: logger)
            let start = ContinuousClock.now
            let report: JournalVerifier.Report
            do {
                report = try await LedgerAudit.verify(database)
            } catch {
                await database.close()
                throw error
            }
            await database.close()
            let elapsed = ContinuousClock.now - start
            if let divergence = report.divergence {
                print("Ledger verification FAILED: \(divergence)")
                print("Checked \(report.entries) entries in \(report.communities) communities before stopping.")
                throw ExitCode(1)
            }
            print(
                "Ledger verified: \(report.entries) entries in \(report.communities) communities, \(report.accounts) accounts; every chain and balance matches (\(elapsed))."
            )
        }
    }
}
