import CourtyardLedger
import Foundation

/// The SQLite fast path split in two stages, so one batch is applied in memory while the previous one is written.
///
/// A batch is **prepared** when everything it needs is already in the kept
/// state: only transfers, between accounts the state holds, in communities
/// whose head and policies it holds. Preparing applies the batch to that state
/// (on top of the previous batch, which may still be committing) and takes out
/// what the write needs as values. **Persisting** writes those values in one
/// transaction. The writer persists batches strictly in order and answers a
/// batch's callers only after its commit; when a persist fails (a replay shows
/// up, another connection committed in between, an I/O error) the kept state
/// is dropped, and that batch and the one prepared on top of it are run again
/// on the sequential path, which reloads from the database.
///
/// Stage ownership on ``RawSQLite``: `prepare` touches only `ledgers` (the
/// kept states); `persist` only the statements, `rowids` and the data version.
/// The writer never runs two prepares, two persists, or a sequential run next
/// to anything else, so no property is used by two threads at once.
enum SQLiteLedgerPipeline {
    /// A batch applied in memory: its answers, and the rows to write.
    struct PreparedBatch: Sendable {
        var results: [[LedgerWriter.Outcome]]
        var companies: [Company]
        struct Company: Sendable {
            var companyId: String
            var entries: [JournalEntry]
            var accounts: [Account]
            var heads: [ChainHead]
            /// Ids of refused operations: the write stage checks none of them is in the journal (a replay must answer
            /// with the original result, and the journal may hold it from a batch committed after this one was prepared).
            var refused: [String]
        }
    }

    /// Thrown by ``persist(_:_:now:)`` when another connection committed since the kept state was read.
    struct StateOutdated: Error {}

    /// Applies `submissions` to the kept state if it holds everything they need; `nil` otherwise (use the sequential path).
    static func prepare(_ sqlite: RawSQLite, submissions: [LedgerWriter.Work], now: Date) -> PreparedBatch? {
        let byCompany = Dictionary(grouping: submissions.indices, by: { submissions[$0].companyId })
        // Check every company first, so an ineligible batch leaves every state untouched.
        for (companyId, indices) in byCompany {
            guard let ledger = sqlite.ledgers[companyId] else { return nil }
            for index in indices {
                for operation in submissions[index].operations {
                    guard case .transfer(let transfer) = operation,
                          ledger.state.accounts[transfer.debit.id] != nil, ledger.state.accounts[transfer.credit.id] != nil,
                          ledger.state.heads[transfer.debit.communityId] != nil,
                          ledger.state.communityCurrency[transfer.debit.communityId] != nil else { return nil }
                }
            }
        }
        var results = [[LedgerWriter.Outcome]](repeating: [], count: submissions.count)
        var companies: [PreparedBatch.Company] = []
        for companyId in byCompany.keys.sorted() {
            let indices = byCompany[companyId]!
            var ledger = sqlite.ledgers.removeValue(forKey: companyId)!
            ledger.state.startBatch()
            let started = ContinuousClock.now
            LedgerWriter.applySubmissions(submissions, indices: indices, to: &ledger.state, at: now.epochMilliseconds, results: &results)
            let refused = indices.flatMap { index in
                zip(submissions[index].operations, results[index]).compactMap { operation, outcome in
                    if case .failure = outcome { operation.id } else { nil }
                }
            }
            let state = ledger.state
            companies.append(PreparedBatch.Company(
                companyId: companyId, entries: state.newEntries, accounts: state.changedAccounts.compactMap { state.accounts[$0] },
                heads: Set(state.newEntries.map(\.communityId)).compactMap { state.heads[$0] }, refused: refused))
            if LedgerWriter.trace {
                print("ledger batch (pipelined): \(state.newEntries.count) entries prepared in \(ContinuousClock.now - started)")
            }
            sqlite.ledgers[companyId] = ledger
        }
        return PreparedBatch(results: results, companies: companies)
    }

    /// Writes a prepared batch in one transaction and commits it.
    static func persist(_ sqlite: RawSQLite, _ batch: PreparedBatch, now: Date) throws {
        try sqlite.execute("BEGIN IMMEDIATE")
        do {
            guard try !sqlite.othersWrote() else { throw StateOutdated() }
            let started = ContinuousClock.now
            for company in batch.companies {
                if try SQLiteLedgerBatch.journalHolds(sqlite, companyId: company.companyId, anyOf: company.refused) {
                    throw SQLiteLedgerBatch.ReplaySuspected()
                }
                try SQLiteLedgerBatch.writeRows(sqlite, companyId: company.companyId, accounts: company.accounts,
                                                entries: company.entries, holds: [], heads: company.heads, now: now, probing: false)
            }
            let committing = ContinuousClock.now
            try sqlite.commit()
            if LedgerWriter.trace {
                print("ledger batch (pipelined): written in \(committing - started), committed in \(ContinuousClock.now - committing)")
            }
        } catch {
            try? sqlite.execute("ROLLBACK")
            throw error
        }
    }
}
