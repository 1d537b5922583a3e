import CourtyardLedger
import CourtyardSQLite
import Foundation

extension RawSQLite {
    /// Ledger work inside this connection's open transaction (another writer's raw path, e.g. prepaid deduction committing
    /// with its readings): loads what `probes` name into a fresh state — accounts, community currency, policies and chain
    /// head, without journal probes (the caller's own dedup makes its ids new; the journal's unique index would still refuse
    /// a replay) — lets `body` apply operations with the ledger's one set of rules, and writes what changed.
    ///
    /// The caller must hold the database's write lock and have begun the transaction; a thrown error leaves it to roll back.
    public func applyLedger<T>(companyId: String, probes: [LedgerOperation], now: Date, _ body: (inout LedgerState) throws -> T) throws -> T {
        _ = try ledgerMemory.othersWrote(self)
        var ledger = SQLiteLedgerMemory.CompanyLedger(companyId: companyId)
        try SQLiteLedgerBatch.load(self, companyId: companyId, operations: probes, into: &ledger, probing: false)
        let result = try body(&ledger.state)
        try SQLiteLedgerBatch.write(self, companyId: companyId, ledger: &ledger, now: now, probing: false)
        return result
    }
}
