import CourtyardLedger
import CourtyardSQLite
import Foundation
import Logging

/// The SQLite fast path split in two stages, so one batch is applied in memory while the previous one is written.
///
/// A batch is **prepared** when everything it needs is already in the kept
/// state: only transfers, between accounts the state holds, in communities
/// whose head and policies it holds. Rows attached to a submission (a bill
/// run's bills and lines, ``LedgerWriter/Attachment``) are written by the
/// persist stage first, in the same transaction, and the groups that posted are
/// marked last. Preparing applies the batch to that state
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
        /// Rowids of balances read while preparing, for the write stage to remember.
        var rowids: [String: Int64] = [:]
        /// Rows attached to the batch's submissions, written first, and the marks of the groups that posted, written
        /// last, by company (see ``LedgerWriter/Attachment``).
        var attachments: [(companyId: String, rows: [BulkWriter.Rows], updates: [BulkWriter.Update])] = []
        var marks: [(companyId: String, updates: [BulkWriter.Update])] = []
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

    /// Applies `submissions` to the kept state if it holds, or can read, everything they need; `nil` otherwise (use the
    /// sequential path).
    ///
    /// What the state lacks is read through a separate read-only connection,
    /// which sees only committed rows: that is enough, because a row the batch
    /// in flight changed is in the state already, and a row nobody changed is
    /// current as committed (the write stage refuses the batch if another
    /// connection committed meanwhile). An account that does not exist yet
    /// opens if its owner exists (checked through the same reader); the write
    /// stage inserts its row.
    static func prepare(_ sqlite: RawSQLite, submissions: [LedgerWriter.Work], now: Date) -> PreparedBatch? {
        // Only transfers are pipelined; checked first (on the operations alone), so an ineligible batch applies nothing.
        for submission in submissions {
            for operation in submission.operations {
                guard case .transfer = operation else { return nil }
            }
        }
        let byCompany = Dictionary(grouping: submissions.indices, by: { submissions[$0].companyId })
        var found: [String: Int64] = [:]
        var results = [[LedgerWriter.Outcome]](repeating: [], count: submissions.count)
        var companies: [PreparedBatch.Company] = []
        var applied: [String] = []
        for companyId in byCompany.keys.sorted() {
            let indices = byCompany[companyId]!
            var ledger = sqlite.ledgerMemory.ledgers.removeValue(forKey: companyId) ?? SQLiteLedgerMemory.CompanyLedger(companyId: companyId)
            applied.append(companyId)
            ledger.state.startBatch()
            let started = ContinuousClock.now
            // Nearly every batch names one community over and over: it is looked up only when it changes.
            var lastCommunity: String?
            for index in indices {
                // What a submission needs that the state lacks is read just before it is applied, so these lookups
                // bring in the very accounts its rules use next (a pass over the whole batch first left them cold).
                var missing: [String: AccountKey] = [:]
                var communities: Set<String> = []
                for case .transfer(let transfer) in submissions[index].operations {
                    if ledger.state.accounts[transfer.debit.id] == nil { missing[transfer.debit.id] = transfer.debit }
                    if ledger.state.accounts[transfer.credit.id] == nil { missing[transfer.credit.id] = transfer.credit }
                    let community = transfer.debit.communityId
                    if community != lastCommunity {
                        lastCommunity = community
                        if ledger.state.heads[community] == nil || ledger.state.communityCurrency[community] == nil {
                            communities.insert(community)
                        }
                    }
                }
                if !missing.isEmpty || !communities.isEmpty {
                    guard let reader = try? sqlite.ledgerMemory.pipelineReader(for: sqlite),
                        let read = try? readCommitted(
                            reader, companyId: companyId, accounts: missing, communities: communities,
                            into: &ledger.state)
                    else {
                        // Part of the batch is applied: the kept states it touched are void. The sequential path
                        // runs it after the batch in flight has committed, and reloads them from the database.
                        for id in applied { sqlite.ledgerMemory.ledgers[id] = nil }
                        return nil
                    }
                    found.merge(read.rowids) { $1 }
                    ledger.state.unavailableAccounts.formUnion(read.unavailable)
                    lastCommunity = nil
                }
                LedgerWriter.applySubmissions(
                    submissions, indices: [index], to: &ledger.state, at: now.epochMilliseconds,
                    results: &results)
            }
            let refused = indices.flatMap { index in
                zip(submissions[index].operations, results[index]).compactMap { operation, outcome in
                    if case .failure = outcome { operation.id } else { nil }
                }
            }
            let state = ledger.state
            companies.append(
                PreparedBatch.Company(
                    companyId: companyId, entries: state.newEntries, accounts: state.changedAccounts.compactMap { state.accounts[$0] },
                    heads: state.movedHeads, refused: refused))
            LedgerWriter.traceLogger.trace("ledger batch (pipelined): \(state.newEntries.count) entries prepared in \(ContinuousClock.now - started)")
            if ledger.state.accounts.count > sqlite.ledgerMemory.maxCachedAccounts {
                // Only the accounts this batch changed must stay (the next batch is applied on top of it before it
                // commits); any other is read again, committed, when next needed. Houses' receivables go first (a bill
                // run touches each once; wallets and community accounts are the hot ones), then, if that is not
                // enough, everything else.
                let changed = ledger.state.changedAccounts
                ledger.state.accounts = ledger.state.accounts.filter { changed.contains($0.key) || $0.value.key.kind != .receivable }
                if ledger.state.accounts.count > sqlite.ledgerMemory.maxCachedAccounts / 2 {
                    ledger.state.accounts = ledger.state.accounts.filter { changed.contains($0.key) }
                }
            }
            sqlite.ledgerMemory.ledgers[companyId] = ledger
        }
        var batch = PreparedBatch(results: results, companies: companies, rowids: found)
        for (work, outcomes) in zip(submissions, results) {
            guard let attachment = work.attachment else { continue }
            batch.attachments.append((work.companyId, attachment.rows, attachment.updates))
            batch.marks.append((work.companyId, LedgerWriter.postedMarks(work, outcomes: outcomes, at: now.epochMilliseconds)))
        }
        return batch
    }

    /// Reads committed accounts (with their rowids) and community facts into `state`, and decides for each account not
    /// stored yet whether it may open (the same owner check as the sequential path); `nil` when a community is unknown.
    static func readCommitted(
        _ reader: RawSQLite, companyId: String, accounts: [String: AccountKey], communities: Set<String>,
        into state: inout LedgerState
    ) throws -> (rowids: [String: Int64], unavailable: Set<String>)? {
        try reader.execute("BEGIN")
        defer { try? reader.execute("COMMIT") }
        let accountQuery = try reader.statement(SQLiteLedgerBatch.accountByIdSQL)
        let houseQuery = try reader.statement("SELECT 1 FROM houses WHERE company_id = ?1 AND id = ?2 AND community_id = ?3")
        let knownCommunity = try reader.statement("SELECT 1 FROM communities WHERE company_id = ?1 AND id = ?2")
        var rowids: [String: Int64] = [:]
        var loaded: [Account] = []
        var unavailable: Set<String> = []
        // A batch's new accounts are nearly all in one community: asked once.
        var communityExists: [String: Bool] = [:]
        for (id, key) in accounts {
            accountQuery.bind(1, id)
            accountQuery.bind(2, companyId)
            if try accountQuery.step() {
                defer { accountQuery.reset() }
                loaded.append(try SQLiteLedgerBatch.account(accountQuery, id: id))
                rowids[id] = accountQuery.int64(12)
                continue
            }
            accountQuery.reset()
            // Not stored: it opens on first use if its owner (the community, or a house of it) exists in the company.
            var ownerExists: Bool
            if let known = communityExists[key.communityId] {
                ownerExists = known
            } else {
                knownCommunity.bind(1, companyId)
                knownCommunity.bind(2, key.communityId)
                ownerExists = try knownCommunity.step()
                knownCommunity.reset()
                communityExists[key.communityId] = ownerExists
            }
            if ownerExists, key.owner != AccountKey.communityOwner {
                houseQuery.bind(1, companyId)
                houseQuery.bind(2, key.owner)
                houseQuery.bind(3, key.communityId)
                ownerExists = try houseQuery.step()
                houseQuery.reset()
            }
            if !ownerExists || key.problem != nil { unavailable.insert(id) }
        }
        for community in communities {
            guard try SQLiteLedgerBatch.readCommunity(reader, companyId: companyId, community: community, into: &state) else { return nil }
        }
        for account in loaded { state.accounts[account.id] = account }
        return (rowids, unavailable)
    }

    /// Writes a prepared batch in one transaction and commits it.
    static func persist(_ sqlite: RawSQLite, _ batch: PreparedBatch, now: Date) throws {
        // Attached rows are checked for references when their table declares any (see SQLiteLedgerBatch.run).
        try sqlite.checkReferences(writing: batch.attachments.flatMap { $0.rows.map(\.table) })
        defer { try? sqlite.enforceForeignKeys(false) }
        try sqlite.begin()
        do {
            guard try !sqlite.ledgerMemory.othersWrote(sqlite) else { throw StateOutdated() }
            // Only a cache (an account without one is found by its id): forgotten rather than grown without bound.
            if sqlite.ledgerMemory.rowids.count > sqlite.ledgerMemory.maxCachedAccounts { sqlite.ledgerMemory.rowids.removeAll() }
            sqlite.ledgerMemory.rowids.merge(batch.rowids) { $1 }
            let started = ContinuousClock.now
            for attachment in batch.attachments {
                try BulkWriter.apply(attachment.rows, updates: attachment.updates, companyId: attachment.companyId, on: sqlite)
            }
            for company in batch.companies {
                if try SQLiteLedgerBatch.journalHolds(sqlite, companyId: company.companyId, anyOf: company.refused) {
                    throw SQLiteLedgerBatch.ReplaySuspected()
                }
                try SQLiteLedgerBatch.writeRows(
                    sqlite, companyId: company.companyId, accounts: company.accounts,
                    entries: company.entries, holds: [], heads: company.heads, now: now, probing: false)
            }
            for mark in batch.marks where !mark.updates.isEmpty {
                try BulkWriter.apply([], updates: mark.updates, companyId: mark.companyId, on: sqlite)
            }
            let committing = ContinuousClock.now
            try sqlite.commit()
            LedgerWriter.traceLogger.trace(
                "ledger batch (pipelined): written in \(committing - started), committed in \(ContinuousClock.now - committing)")
        } catch {
            try? sqlite.execute("ROLLBACK")
            throw error
        }
    }
}
