import CourtyardLedger
import Foundation

/// The SQLite fast path of ``LedgerWriter``: one batch as one synchronous job on a raw handle.
///
/// Same reads, same pure rules, same rows as ``LedgerStore`` — only without
/// SQLKit's per-value bridging and per-statement thread hops. Runs inside
/// `BEGIN IMMEDIATE … COMMIT` while the database's write lock is held.
enum SQLiteLedgerBatch {
    typealias Submission = (companyId: String, operations: [LedgerOperation], linked: Bool)

    static func run(_ sqlite: RawSQLite, submissions: [Submission], now: Date) throws -> [[LedgerWriter.Outcome]] {
        try sqlite.execute("BEGIN IMMEDIATE")
        do {
            try sqlite.invalidateCacheIfOthersWrote()
            var results = [[LedgerWriter.Outcome]](repeating: [], count: submissions.count)
            var pending: [LedgerState] = []
            let byCompany = Dictionary(grouping: submissions.indices, by: { submissions[$0].companyId })
            for companyId in byCompany.keys.sorted() {
                let indices = byCompany[companyId]!
                var state = LedgerState(companyId: companyId)
                let started = ContinuousClock.now
                let stored = try load(sqlite, companyId: companyId, operations: indices.flatMap { submissions[$0].operations }, into: &state)
                let loaded = ContinuousClock.now
                LedgerWriter.applySubmissions(submissions, indices: indices, to: &state, at: now.epochMilliseconds, results: &results)
                let applied = ContinuousClock.now
                try write(sqlite, companyId: companyId, state: state, stored: stored, now: now)
                pending.append(state)
                if LedgerWriter.trace {
                    print("ledger batch (sqlite fast path): \(state.newEntries.count) entries, load \(loaded - started), apply \(applied - loaded), write \(ContinuousClock.now - applied)")
                }
            }
            try sqlite.execute("COMMIT")
            // Only committed rows enter the cache.
            for state in pending {
                for id in state.changedAccounts { sqlite.accountCache[id] = state.accounts[id] }
            }
            return results
        } catch {
            try? sqlite.execute("ROLLBACK")
            sqlite.accountCache.removeAll()
            throw error
        }
    }

    /// Loads what `operations` need; returns the ids of accounts that already have a stored row.
    static func load(_ sqlite: RawSQLite, companyId: String, operations: [LedgerOperation], into state: inout LedgerState) throws -> Set<String> {
        var stored: Set<String> = []
        let entryQuery = try sqlite.statement("""
            SELECT \(LedgerStore.entryColumns.joined(separator: ", ")) FROM ledger_entries WHERE company_id = ?1 AND transfer_id = ?2
            """)
        var keys: [String: AccountKey] = [:]
        var holdIds: Set<String> = []
        var seen: Set<String> = []
        for operation in operations {
            let id = operation.id
            if seen.insert(id).inserted {
                entryQuery.bind(1, companyId)
                entryQuery.bind(2, id)
                if try entryQuery.step() { state.appliedEntries[id] = try entry(entryQuery) }
                sqlite_reset(entryQuery)
            }
            switch operation {
            case .transfer(let t), .hold(let t, _):
                keys[t.debit.id] = t.debit
                keys[t.credit.id] = t.credit
            case .postHold(_, let holdId, _, _), .voidHold(_, let holdId, _), .expireHold(let holdId):
                holdIds.insert(holdId)
            }
        }
        var holdAccounts: [(id: String, community: String, debit: String, credit: String, amount: Int64, currency: String,
                            code: String, expiresAt: Int64, status: String)] = []
        let holdQuery = try sqlite.statement("""
            SELECT id, community_id, debit_account_id, credit_account_id, amount, currency, code, expires_at, status
            FROM ledger_holds WHERE company_id = ?1 AND id = ?2
            """)
        for holdId in holdIds {
            holdQuery.bind(1, companyId)
            holdQuery.bind(2, holdId)
            if try holdQuery.step() {
                holdAccounts.append((holdQuery.string(0), holdQuery.string(1), holdQuery.string(2), holdQuery.string(3),
                                     holdQuery.int64(4), holdQuery.string(5), holdQuery.string(6), holdQuery.int64(7), holdQuery.string(8)))
            }
            sqlite_reset(holdQuery)
        }
        // Communities of the company, with their currency and wallet policies.
        let communities = Set(keys.values.map(\.communityId)).union(holdAccounts.map(\.community))
        let communityQuery = try sqlite.statement("SELECT currency FROM communities WHERE company_id = ?1 AND id = ?2")
        let policyQuery = try sqlite.statement("SELECT purpose, emergency_credit FROM ledger_policies WHERE company_id = ?1 AND community_id = ?2")
        let headQuery = try sqlite.statement("SELECT sequence, hash FROM ledger_heads WHERE company_id = ?1 AND community_id = ?2")
        var known: Set<String> = []
        for community in communities {
            communityQuery.bind(1, companyId)
            communityQuery.bind(2, community)
            if try communityQuery.step() {
                known.insert(community)
                state.communityCurrency[community] = communityQuery.string(0)
            }
            sqlite_reset(communityQuery)
            guard known.contains(community) else { continue }
            policyQuery.bind(1, companyId)
            policyQuery.bind(2, community)
            while try policyQuery.step() {
                state.emergencyCredit[LedgerState.emergencyKey(community, policyQuery.string(0))] = policyQuery.int64(1)
            }
            sqlite_reset(policyQuery)
            headQuery.bind(1, companyId)
            headQuery.bind(2, community)
            if try headQuery.step() {
                state.heads[community] = ChainHead(communityId: community, sequence: headQuery.int64(0), hash: headQuery.string(1))
            }
            sqlite_reset(headQuery)
        }
        // Accounts: read those that exist; the others may open if their owner exists.
        let accountQuery = try sqlite.statement("""
            SELECT \(LedgerStore.accountColumns.joined(separator: ", ")) FROM ledger_accounts WHERE id = ?1 AND company_id = ?2
            """)
        let houseQuery = try sqlite.statement("SELECT 1 FROM houses WHERE company_id = ?1 AND id = ?2 AND community_id = ?3")
        var ids = Set(keys.keys)
        for hold in holdAccounts { ids.insert(hold.debit); ids.insert(hold.credit) }
        for id in ids {
            if let cached = sqlite.accountCache[id] {
                state.accounts[id] = cached
                stored.insert(id)
                continue
            }
            accountQuery.bind(1, id)
            accountQuery.bind(2, companyId)
            if try accountQuery.step() {
                guard let kind = AccountKind(rawValue: accountQuery.string(3)) else {
                    throw StorageError.corruptRow(table: "ledger_accounts", column: "kind")
                }
                let key = AccountKey(storedId: id, communityId: accountQuery.string(2), kind: kind, owner: accountQuery.string(4),
                                     purpose: accountQuery.string(5))
                state.accounts[id] = Account(key: key, currency: accountQuery.string(6), debitsPosted: accountQuery.int64(7),
                                             creditsPosted: accountQuery.int64(8), debitsPending: accountQuery.int64(9),
                                             creditsPending: accountQuery.int64(10))
                stored.insert(id)
                sqlite_reset(accountQuery)
                continue
            }
            sqlite_reset(accountQuery)
            guard let key = keys[id] else { continue }
            var ownerExists = key.owner == AccountKey.communityOwner
            if !ownerExists {
                houseQuery.bind(1, companyId)
                houseQuery.bind(2, key.owner)
                houseQuery.bind(3, key.communityId)
                ownerExists = try houseQuery.step()
                sqlite_reset(houseQuery)
            }
            if !(known.contains(key.communityId) && ownerExists && key.problem == nil) {
                state.unavailableAccounts.insert(id)
            }
        }
        for hold in holdAccounts {
            guard let debit = state.accounts[hold.debit], let credit = state.accounts[hold.credit],
                  let code = TransferCode(rawValue: hold.code), let status = Hold.Status(rawValue: hold.status) else {
                throw StorageError.corruptRow(table: "ledger_holds", column: "id")
            }
            state.holds[hold.id] = Hold(id: hold.id, communityId: hold.community, debit: debit.key, credit: credit.key,
                                        amount: hold.amount, currency: hold.currency, code: code, expiresAt: hold.expiresAt, status: status)
        }
        return stored
    }

    static func write(_ sqlite: RawSQLite, companyId: String, state: LedgerState, stored: Set<String>, now: Date) throws {
        let millis = now.epochMilliseconds
        let updateAccount = try sqlite.statement("""
            UPDATE ledger_accounts SET debits_posted = ?2, credits_posted = ?3, debits_pending = ?4, credits_pending = ?5,
                updated_at = ?6 WHERE id = ?1
            """)
        let upsertAccount = try sqlite.statement("""
            INSERT INTO ledger_accounts (id, company_id, community_id, kind, owner, purpose, currency, debits_posted, credits_posted,
                debits_pending, credits_pending, created_at, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
            ON CONFLICT (id) DO UPDATE SET debits_posted = excluded.debits_posted, credits_posted = excluded.credits_posted,
                debits_pending = excluded.debits_pending, credits_pending = excluded.credits_pending, updated_at = excluded.updated_at
            """)
        for id in state.changedAccounts {
            guard let account = state.accounts[id] else { continue }
            if stored.contains(id) {
                updateAccount.bind(1, account.id)
                updateAccount.bind(2, account.debitsPosted)
                updateAccount.bind(3, account.creditsPosted)
                updateAccount.bind(4, account.debitsPending)
                updateAccount.bind(5, account.creditsPending)
                updateAccount.bind(6, millis)
                try updateAccount.run()
                sqlite_reset(updateAccount)
                continue
            }
            upsertAccount.bind(1, account.id)
            upsertAccount.bind(2, companyId)
            upsertAccount.bind(3, account.key.communityId)
            upsertAccount.bind(4, account.key.kind.rawValue)
            upsertAccount.bind(5, account.key.owner)
            upsertAccount.bind(6, account.key.purpose)
            upsertAccount.bind(7, account.currency)
            upsertAccount.bind(8, account.debitsPosted)
            upsertAccount.bind(9, account.creditsPosted)
            upsertAccount.bind(10, account.debitsPending)
            upsertAccount.bind(11, account.creditsPending)
            upsertAccount.bind(12, millis)
            try upsertAccount.run()
            sqlite_reset(upsertAccount)
        }
        let insertEntry = try sqlite.statement("""
            INSERT INTO ledger_entries (\(LedgerStore.entryColumns.joined(separator: ", ")))
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
            """)
        for entry in state.newEntries {
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
            try insertEntry.run()
            sqlite_reset(insertEntry)
        }
        let upsertHold = try sqlite.statement("""
            INSERT INTO ledger_holds (id, company_id, community_id, debit_account_id, credit_account_id, amount, currency, code,
                expires_at, status)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            ON CONFLICT (company_id, id) DO UPDATE SET status = excluded.status
            """)
        for id in state.changedHolds {
            guard let hold = state.holds[id] else { continue }
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
        let upsertHead = try sqlite.statement("""
            INSERT INTO ledger_heads (community_id, company_id, sequence, hash) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (community_id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
            """)
        for community in Set(state.newEntries.map(\.communityId)) {
            guard let head = state.heads[community] else { continue }
            upsertHead.bind(1, community)
            upsertHead.bind(2, companyId)
            upsertHead.bind(3, head.sequence)
            upsertHead.bind(4, head.hash)
            try upsertHead.run()
            sqlite_reset(upsertHead)
        }
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
            previousHash: row.string(19), hash: row.string(20))
    }

    /// Resets a statement after use so it releases its read snapshot.
    static func sqlite_reset(_ statement: RawSQLite.Statement) {
        statement.reset()
    }
}
