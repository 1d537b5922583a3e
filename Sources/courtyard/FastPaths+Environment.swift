import CourtyardStorage
import Foundation

extension FastPaths {
    /// The fast paths the `courtyard` command opens databases with: all, except those switched off for a comparison by
    /// `COURTYARD_LEDGER_SQLKIT_ONLY` (the ledger writer through SQLKit) or `COURTYARD_BULK_SQLKIT_ONLY` (bulk writes and
    /// reads through SQLKit). The libraries read no environment; this is the one place the command does.
    static var fromEnvironment: FastPaths {
        let environment = ProcessInfo.processInfo.environment
        return FastPaths(ledger: environment["COURTYARD_LEDGER_SQLKIT_ONLY"] == nil, bulk: environment["COURTYARD_BULK_SQLKIT_ONLY"] == nil)
    }
}
