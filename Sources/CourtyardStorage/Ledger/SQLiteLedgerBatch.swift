import CourtyardLedger
import CourtyardSQLite
import Foundation
import Logging

/// The SQLite fast path of ``LedgerWriter``: one batch as one synchronous job on a raw handle.
///
/// Same reads, same pure rules, same rows as ``LedgerStore`` — only without
/// SQLKit's per-value bridging and per-statement thread hops. Runs inside
/// `BEGIN IMMEDIATE … COMMIT` while the database's write lock is held.
enum SQLiteLedgerBatch {
    typealias Submission = LedgerWriter.Work

    /// Thrown inside a batch that skipped the idempotency probes when one of its operations turns out to be a replay.
    struct ReplaySuspected: Error {}

    /// Runs a batch; first optimistically (see ``run(_:submissions:now:probing:)``), then, if that met a replay, probing every id.
    static func run(_ sqlite: RawSQLite, submissions: [Submission], now: Date) throws -> [[LedgerWriter.Outcome]] {
        do {
            return try run(sqlite, submissions: submissions, now: now, probing: false)
        } catch is ReplaySuspected {
            return try run(sqlite, submissions: submissions, now: now, probing: true)
        }
    }

    /// Runs a batch in one transaction.
    ///
    /// With `probing` off, new transfers are not looked up in the journal
    /// first: the journal's unique (company, transfer id) index is the check.
    /// An insert that hits it, or any refused operation whose id the journal
    /// already holds (a replay must answer with the original result, not a
    /// fresh refusal), throws ``ReplaySuspected`` and the caller reruns the
    /// batch with probing on. Hold operations always probe, since a replayed
    /// post or void would otherwise meet a hold that is no longer pending.
    static func run(_ sqlite: RawSQLite, submissions: [Submission], now: Date, probing: Bool) throws -> [[LedgerWriter.Outcome]] {
        // The fast path's connection leaves foreign keys unchecked (its own rows reference only accounts it read or
        // opened); rows attached to a batch are checked as anywhere else when their table declares any.
        try sqlite.checkReferences(writing: submissions.flatMap { $0.attachment?.rows.map(\.table) ?? [] })
        defer { try? sqlite.enforceForeignKeys(false) }
        try sqlite.begin()
        var taken: [String: SQLiteLedgerMemory.CompanyLedger] = [:]
        do {
            try sqlite.ledgerMemory.invalidateCacheIfOthersWrote(sqlite)
            if sqlite.ledgerMemory.rowids.count > sqlite.ledgerMemory.maxCachedAccounts { sqlite.ledgerMemory.rowids.removeAll() }
            for work in submissions {
                if let attachment = work.attachment {
                    try BulkWriter.apply(attachment.rows, updates: attachment.updates, companyId: work.companyId, on: sqlite)
                }
            }
            var results = [[LedgerWriter.Outcome]](repeating: [], count: submissions.count)
            let byCompany = Dictionary(grouping: submissions.indices, by: { submissions[$0].companyId })
            for companyId in byCompany.keys.sorted() {
                let indices = byCompany[companyId]!
                // Taken out of the connection while in use (so it is never copied), put back only after the commit.
                var ledger = sqlite.ledgerMemory.ledgers.removeValue(forKey: companyId) ?? SQLiteLedgerMemory.CompanyLedger(companyId: companyId)
                ledger.state.startBatch()
                let started = ContinuousClock.now
                let operations = indices.flatMap { submissions[$0].operations }
                try load(sqlite, companyId: companyId, operations: operations, into: &ledger, probing: probing)
                let loaded = ContinuousClock.now
                LedgerWriter.applySubmissions(
                    submissions, indices: indices, to: &ledger.state, at: now.epochMilliseconds,
                    results: &results)
                if !probing {
                    // A refusal might really be a replay of something the journal holds.
                    let refused = indices.flatMap { index in
                        zip(submissions[index].operations, results[index]).compactMap { operation, outcome in
                            if case .failure = outcome { operation.id } else { nil }
                        }
                    }
                    if try journalHolds(sqlite, companyId: companyId, anyOf: refused) { throw ReplaySuspected() }
                }
                let applied = ContinuousClock.now
                try write(sqlite, companyId: companyId, ledger: &ledger, now: now, probing: probing)
                LedgerWriter.traceLogger.trace(
                    "ledger batch (sqlite fast path): \(ledger.state.newEntries.count) entries, load \(loaded - started), apply \(applied - loaded), write \(ContinuousClock.now - applied)"
                )
                taken[companyId] = ledger
            }
            for (work, outcomes) in zip(submissions, results) {
                let marks = LedgerWriter.postedMarks(work, outcomes: outcomes, at: now.epochMilliseconds)
                if !marks.isEmpty { try BulkWriter.apply([], updates: marks, companyId: work.companyId, on: sqlite) }
            }
            let committing = ContinuousClock.now
            try sqlite.commit()
            LedgerWriter.traceLogger.trace("ledger batch (sqlite fast path): commit \(ContinuousClock.now - committing)")
            // Only committed state is kept for the next batch.
            for (companyId, ledger) in taken where ledger.state.accounts.count <= sqlite.ledgerMemory.maxCachedAccounts {
                sqlite.ledgerMemory.ledgers[companyId] = ledger
            }
            return results
        } catch {
            // The states taken out were changed by a batch that did not commit: they are dropped, and reloaded when next needed.
            try? sqlite.execute("ROLLBACK")
            throw error
        }
    }

    /// Whether the journal already has an entry for any of `ids`.
    static func journalHolds(_ sqlite: RawSQLite, companyId: String, anyOf ids: [String]) throws -> Bool {
        guard !ids.isEmpty else { return false }
        let query = try sqlite.statement("SELECT 1 FROM ledger_entries WHERE company_id = ?1 AND transfer_id = ?2")
        for id in ids {
            query.bind(1, companyId)
            query.bind(2, id)
            let found = try query.step()
            query.reset()
            if found { return true }
        }
        return false
    }

    /// Loads what `operations` need that the company's state does not hold yet.
    static func load(
        _ sqlite: RawSQLite, companyId: String, operations: [LedgerOperation], into ledger: inout SQLiteLedgerMemory.CompanyLedger,
        probing: Bool
    ) throws {
        let entryQuery = try sqlite.statement(
            """
            SELECT \(LedgerStore.entryColumns.joined(separator: ", ")) FROM ledger_entries WHERE company_id = ?1 AND transfer_id = ?2
            """)
        var missing: [String: AccountKey] = [:]
        var communities: Set<String> = []
        var holdIds: Set<String> = []
        var seen: Set<String> = []
        for operation in operations {
            let probe: Bool
            switch operation {
            case .transfer, .hold: probe = probing
            case .postHold, .voidHold, .expireHold: probe = true
            }
            if probe {
                let id = operation.id
                if seen.insert(id).inserted {
                    entryQuery.bind(1, companyId)
                    entryQuery.bind(2, id)
                    if try entryQuery.step() { ledger.state.appliedEntries[id] = try entry(entryQuery) }
                    sqlite_reset(entryQuery)
                }
            }
            switch operation {
            case .transfer(let t), .hold(let t, _):
                communities.insert(t.debit.communityId)
                if ledger.state.accounts[t.debit.id] == nil { missing[t.debit.id] = t.debit }
                if ledger.state.accounts[t.credit.id] == nil { missing[t.credit.id] = t.credit }
            case .postHold(_, let holdId, _, _), .voidHold(_, let holdId, _), .expireHold(let holdId):
                holdIds.insert(holdId)
            }
        }
        var holdRows:
            [(
                id: String, community: String, debit: String, credit: String, amount: Int64, currency: String,
                code: String, expiresAt: Int64, status: String
            )] = []
        let holdQuery = try sqlite.statement(
            """
            SELECT id, community_id, debit_account_id, credit_account_id, amount, currency, code, expires_at, status
            FROM ledger_holds WHERE company_id = ?1 AND id = ?2
            """)
        for holdId in holdIds {
            holdQuery.bind(1, companyId)
            holdQuery.bind(2, holdId)
            if try holdQuery.step() {
                holdRows.append(
                    (
                        holdQuery.string(0), holdQuery.string(1), holdQuery.string(2), holdQuery.string(3),
                        holdQuery.int64(4), holdQuery.string(5), holdQuery.string(6), holdQuery.int64(7), holdQuery.string(8)
                    ))
                communities.insert(holdQuery.string(1))
            }
            sqlite_reset(holdQuery)
        }
        // Communities of the company, with their currency, wallet policies and chain head (a few rows each batch).
        var known: Set<String> = []
        for community in communities where try readCommunity(sqlite, companyId: companyId, community: community, into: &ledger.state) {
            known.insert(community)
        }
        // Accounts the state does not hold: read those that exist; the others may open if their owner exists.
        let accountQuery = try sqlite.statement(accountByIdSQL)
        let houseQuery = try sqlite.statement("SELECT 1 FROM houses WHERE company_id = ?1 AND id = ?2 AND community_id = ?3")
        var wanted = Array(missing.keys)
        for hold in holdRows {
            for id in [hold.debit, hold.credit] where ledger.state.accounts[id] == nil && missing[id] == nil { wanted.append(id) }
        }
        LedgerWriter.traceLogger.trace("ledger batch (sqlite fast path): \(wanted.count) accounts to read, \(ledger.state.accounts.count) kept")
        for id in wanted {
            accountQuery.bind(1, id)
            accountQuery.bind(2, companyId)
            if try accountQuery.step() {
                ledger.state.accounts[id] = try account(accountQuery, id: id)
                sqlite.ledgerMemory.rowids[id] = accountQuery.int64(12)
                sqlite_reset(accountQuery)
                continue
            }
            sqlite_reset(accountQuery)
            guard let key = missing[id] else { continue }
            var ownerExists = key.owner == AccountKey.communityOwner
            if !ownerExists {
                houseQuery.bind(1, companyId)
                houseQuery.bind(2, key.owner)
                houseQuery.bind(3, key.communityId)
                ownerExists = try houseQuery.step()
                sqlite_reset(houseQuery)
            }
            if !(known.contains(key.communityId) && ownerExists && key.problem == nil) {
                ledger.state.unavailableAccounts.insert(id)
            }
        }
        for hold in holdRows {
            guard let debit = ledger.state.accounts[hold.debit], let credit = ledger.state.accounts[hold.credit],
                let code = TransferCode(rawValue: hold.code), let status = Hold.Status(rawValue: hold.status)
            else {
                throw StorageError.corruptRow(table: "ledger_holds", column: "id")
            }
            ledger.state.holds[hold.id] = Hold(
                id: hold.id, communityId: hold.community, debit: debit.key, credit: credit.key,
                amount: hold.amount, currency: hold.currency, code: code, expiresAt: hold.expiresAt,
                status: status)
        }
    }

    static func write(_ sqlite: RawSQLite, companyId: String, ledger: inout SQLiteLedgerMemory.CompanyLedger, now: Date, probing: Bool) throws {
        let state = ledger.state
        try writeRows(
            sqlite, companyId: companyId, accounts: state.changedAccounts.compactMap { state.accounts[$0] },
            entries: state.newEntries, holds: state.changedHolds.compactMap { state.holds[$0] },
            heads: state.movedHeads, now: now, probing: probing)
    }

    /// Writes changed accounts, new entries, changed holds and moved heads.
    static func writeRows(
        _ sqlite: RawSQLite, companyId: String, accounts: [Account], entries: [JournalEntry], holds: [Hold],
        heads: [ChainHead], now: Date, probing: Bool
    ) throws {
        let millis = now.epochMilliseconds
        let startedWriting = ContinuousClock.now
        // Stored balances are updated by rowid (no lookup in the text-id index); new accounts are inserted.
        // `OR ROLLBACK`: a failing row ends the whole transaction (the batch throws and is rolled back anyway), which
        // spares SQLite a statement journal per row.
        let updateAccount = try sqlite.statement(
            """
            UPDATE OR ROLLBACK ledger_balances SET debits_posted = ?2, credits_posted = ?3, debits_pending = ?4, credits_pending = ?5,
                last_sequence = ?6 WHERE rowid = ?1
            """)
        let insertAccount = try sqlite.statement(
            """
            INSERT OR ROLLBACK INTO ledger_accounts (id, company_id, community_id, kind, owner, purpose, currency, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
            """)
        let insertBalance = try sqlite.statement(
            """
            INSERT OR ROLLBACK INTO ledger_balances (account_id, debits_posted, credits_posted, debits_pending, credits_pending, last_sequence)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        let findAccount = try sqlite.statement("SELECT rowid FROM ledger_balances WHERE account_id = ?1")
        // Stored balances are updated in rowid order: each update then lands on the page of the one before or a later
        // one, instead of jumping about the table (a batch touches most of a busy community's wallets).
        var updates: [(rowid: Int64, index: Int)] = []
        updates.reserveCapacity(accounts.count)
        var inserts: [Int] = []
        for (index, account) in accounts.enumerated() {
            if let rowid = sqlite.ledgerMemory.rowids[account.id] {
                updates.append((rowid, index))
                continue
            }
            // Stored, but read before the rowids were last forgotten; or new.
            findAccount.bind(1, account.id)
            if try findAccount.step() {
                let rowid = findAccount.int64(0)
                sqlite.ledgerMemory.rowids[account.id] = rowid
                updates.append((rowid, index))
            } else {
                inserts.append(index)
            }
            sqlite_reset(findAccount)
        }
        updates.sort { $0.rowid < $1.rowid }
        for (rowid, index) in updates {
            updateAccount.bind(1, rowid)
            bindTotals(updateAccount, accounts[index], from: 2)
            try updateAccount.run()
            sqlite_reset(updateAccount)
        }
        for index in inserts {
            let account = accounts[index]
            insertAccount.bind(1, account.id)
            insertAccount.bind(2, companyId)
            insertAccount.bind(3, account.key.communityId)
            insertAccount.bind(4, account.key.kind.rawValue)
            insertAccount.bind(5, account.key.owner)
            insertAccount.bind(6, account.key.purpose)
            insertAccount.bind(7, account.currency)
            insertAccount.bind(8, millis)
            try insertAccount.run()
            sqlite_reset(insertAccount)
            insertBalance.bind(1, account.id)
            bindTotals(insertBalance, account, from: 2)
            try insertBalance.run()
            sqlite_reset(insertBalance)
            sqlite.ledgerMemory.rowids[account.id] = sqlite.lastInsertRowid
        }
        let accountsWritten = ContinuousClock.now
        let insertEntry = try sqlite.statement(
            """
            INSERT OR ROLLBACK INTO ledger_entries (\(LedgerStore.entryColumns.joined(separator: ", ")))
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
            """)
        for entry in entries {
            insertEntry.bind(1, entry.companyId)
            insertEntry.bind(2, entry.communityId)
            insertEntry.bind(3, entry.sequence)
            insertEntry.bind(4, entry.transferId)
            insertEntry.bind(5, entry.type.rawValue)
            insertEntry.bind(6, entry.debitAccountId)
            insertEntry.bind(7, entry.creditAccountId)
            insertEntry.bind(8, entry.amount)
            insertEntry.bind(9, entry.pendingAmount)
            insertEntry.bind(10, entry.currency)
            insertEntry.bind(11, entry.code.rawValue)
            insertEntry.bind(12, entry.reference)
            insertEntry.bind(13, entry.actor)
            insertEntry.bind(14, entry.holdId)
            insertEntry.bind(15, entry.expiresAt)
            insertEntry.bind(16, entry.recordedAt)
            insertEntry.bind(17, entry.contentDigest)
            insertEntry.bind(18, entry.debitBalanceAfter)
            insertEntry.bind(19, entry.creditBalanceAfter)
            insertEntry.bind(20, entry.previousHash)
            insertEntry.bind(21, entry.hash)
            insertEntry.bind(22, entry.debitPrevious)
            insertEntry.bind(23, entry.creditPrevious)
            do {
                try insertEntry.run()
            } catch let failure as RawSQLite.Failure where !probing && failure.code & 0xFF == 19 {  // SQLITE_CONSTRAINT
                sqlite_reset(insertEntry)
                throw ReplaySuspected()
            }
            sqlite_reset(insertEntry)
        }
        LedgerWriter.traceLogger.trace(
            "ledger batch: \(accounts.count) accounts written in \(accountsWritten - startedWriting), \(entries.count) entries in \(ContinuousClock.now - accountsWritten)"
        )
        let upsertHold = try sqlite.statement(
            """
            INSERT INTO ledger_holds (id, company_id, community_id, debit_account_id, credit_account_id, amount, currency, code,
                expires_at, status)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            ON CONFLICT (company_id, id) DO UPDATE SET status = excluded.status
            """)
        for hold in holds {
            upsertHold.bind(1, hold.id)
            upsertHold.bind(2, companyId)
            upsertHold.bind(3, hold.communityId)
            upsertHold.bind(4, hold.debit.id)
            upsertHold.bind(5, hold.credit.id)
            upsertHold.bind(6, hold.amount)
            upsertHold.bind(7, hold.currency)
            upsertHold.bind(8, hold.code.rawValue)
            upsertHold.bind(9, hold.expiresAt)
            upsertHold.bind(10, hold.status.rawValue)
            try upsertHold.run()
            sqlite_reset(upsertHold)
        }
        let upsertHead = try sqlite.statement(
            """
            INSERT INTO ledger_heads (community_id, company_id, sequence, hash) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (community_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
            """)
        for head in heads {
            upsertHead.bind(1, head.communityId)
            upsertHead.bind(2, companyId)
            upsertHead.bind(3, head.sequence)
            upsertHead.bind(4, head.hash)
            try upsertHead.run()
            sqlite_reset(upsertHead)
        }
    }

    /// A stored account and its balance row's rowid, by id within a company (rowid in column 12).
    static let accountByIdSQL = """
        SELECT \(LedgerStore.accountColumns.joined(separator: ", ")), b.rowid
        FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id WHERE a.id = ?1 AND a.company_id = ?2
        """

    /// The account in the current row of an ``accountByIdSQL`` query.
    static func account(_ row: RawSQLite.Statement, id: String) throws -> Account {
        guard let kind = AccountKind(rawValue: row.string(3)) else {
            throw StorageError.corruptRow(table: "ledger_accounts", column: "kind")
        }
        let key = AccountKey(storedId: id, communityId: row.string(2), kind: kind, owner: row.string(4), purpose: row.string(5))
        return Account(
            key: key, currency: row.string(6), debitsPosted: row.int64(7), creditsPosted: row.int64(8),
            debitsPending: row.int64(9), creditsPending: row.int64(10), lastSequence: row.int64(11))
    }

    /// Binds an account's four totals and its last entry to parameters `first` … `first + 4`.
    static func bindTotals(_ statement: RawSQLite.Statement, _ account: Account, from first: Int32) {
        statement.bind(first, account.debitsPosted)
        statement.bind(first + 1, account.creditsPosted)
        statement.bind(first + 2, account.debitsPending)
        statement.bind(first + 3, account.creditsPending)
        statement.bind(first + 4, account.lastSequence)
    }

    /// Reads a community's currency, wallet policies and chain head (genesis when it has none) into `state`;
    /// `false` when the company has no such community.
    static func readCommunity(_ sqlite: RawSQLite, companyId: String, community: String, into state: inout LedgerState) throws -> Bool {
        let communityQuery = try sqlite.statement("SELECT currency FROM communities WHERE company_id = ?1 AND id = ?2")
        communityQuery.bind(1, companyId)
        communityQuery.bind(2, community)
        guard try communityQuery.step() else {
            communityQuery.reset()
            return false
        }
        state.communityCurrency[community] = communityQuery.string(0)
        communityQuery.reset()
        let policyQuery = try sqlite.statement("SELECT purpose, emergency_credit FROM ledger_policies WHERE company_id = ?1 AND community_id = ?2")
        policyQuery.bind(1, companyId)
        policyQuery.bind(2, community)
        while try policyQuery.step() {
            state.emergencyCredit[LedgerState.emergencyKey(community, policyQuery.string(0))] = policyQuery.int64(1)
        }
        policyQuery.reset()
        let headQuery = try sqlite.statement("SELECT sequence, hash FROM ledger_heads WHERE company_id = ?1 AND community_id = ?2")
        headQuery.bind(1, companyId)
        headQuery.bind(2, community)
        state.heads[community] =
            try headQuery.step()
            ? ChainHead(communityId: community, sequence: headQuery.int64(0), hash: headQuery.string(1))
            : ChainHead(communityId: community, sequence: 0, hash: JournalEntry.genesisHash)
        headQuery.reset()
        return true
    }

    static func entry(_ row: RawSQLite.Statement) throws -> JournalEntry {
        guard let type = JournalEntry.EntryType(rawValue: row.string(4)), let code = TransferCode(rawValue: row.string(10)) else {
            throw StorageError.corruptRow(table: "ledger_entries", column: "type")
        }
        return JournalEntry(
            companyId: row.string(0), communityId: row.string(1), sequence: row.int64(2), transferId: row.string(3), type: type,
            debitAccountId: row.string(5), creditAccountId: row.string(6), amount: row.int64(7), pendingAmount: row.int64(8),
            currency: row.string(9), code: code, reference: row.optionalString(11), actor: row.string(12),
            holdId: row.optionalString(13), expiresAt: row.optionalInt64(14), recordedAt: row.int64(15),
            contentDigest: row.string(16), debitBalanceAfter: row.int64(17), creditBalanceAfter: row.int64(18),
            previousHash: row.string(19), hash: row.string(20), debitPrevious: row.int64(21), creditPrevious: row.int64(22))
    }

    /// Resets a statement after use so it releases its read snapshot.
    static func sqlite_reset(_ statement: RawSQLite.Statement) {
        statement.reset()
    }
}
