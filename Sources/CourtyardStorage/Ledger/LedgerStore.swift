import CourtyardLedger
import Foundation
import SQLKit

/// Reads and writes the ledger tables for one company.
///
/// It loads exactly the rows a batch of operations touches into a
/// ``LedgerState`` (creating missing account and head rows first, then
/// selecting them `FOR UPDATE` in id order on PostgreSQL so concurrent writers
/// serialize without deadlocks), and writes back what the state changed.
public struct LedgerStore: Sendable {
    public let db: any SQLDatabase
    public let companyId: String
    public let engine: Database.Engine

    public init(_ db: any SQLDatabase, companyId: String, engine: Database.Engine) {
        self.db = db
        self.companyId = companyId
        self.engine = engine
    }

    /// An account's columns: identity from `ledger_accounts a`, numbers from `ledger_balances b`.
    static let accountColumns = [
        "a.id", "a.company_id", "a.community_id", "a.kind", "a.owner", "a.purpose", "a.currency",
        "b.debits_posted", "b.credits_posted", "b.debits_pending", "b.credits_pending", "b.last_sequence",
    ]
    /// `SELECT` list and `FROM` clause for whole accounts.
    static let accountSelect =
        accountColumns.joined(separator: ", ")
        + " FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id"
    static let identityColumns = ["id", "company_id", "community_id", "kind", "owner", "purpose", "currency", "created_at", "updated_at"]
    package static let entryColumns = [
        "company_id", "community_id", "sequence", "transfer_id", "type", "debit_account_id",
        "credit_account_id", "amount", "pending_amount", "currency", "code", "reference", "actor",
        "hold_id", "expires_at", "recorded_at", "content_digest", "debit_balance_after",
        "credit_balance_after", "previous_hash", "hash", "debit_previous", "credit_previous",
    ]

    /// Rows per multi-row statement, below SQLite's 32,766 bound parameters.
    static let chunk = 1_000

    private var lockSuffix: String { engine == .postgres ? " FOR UPDATE" : "" }

    // MARK: Loading

    /// Loads everything `operations` need into `state`.
    ///
    /// - Parameter checkReplays: false when the caller's own dedup already guarantees these ids are new in this
    ///   transaction (a prepaid deduction commits with its reading); a replay would still fail on the unique key.
    public func load(_ operations: [LedgerOperation], into state: inout LedgerState, now: Date, checkReplays: Bool = true) async throws {
        var keys: [String: AccountKey] = [:]
        var holdIds: Set<String> = []
        for operation in operations {
            switch operation {
            case .transfer(let t), .hold(let t, _):
                keys[t.debit.id] = t.debit
                keys[t.credit.id] = t.credit
            case .postHold(_, let holdId, _, _), .voidHold(_, let holdId, _), .expireHold(let holdId):
                holdIds.insert(holdId)
            }
        }
        // Earlier results for these ids: the idempotency record. Most batches have none, so ask for ids first.
        let ids = checkReplays ? Array(Set(operations.map(\.id))) : []
        var seen: [String] = []
        for part in ids.chunked(Self.chunk) {
            let rows = try await db.select().column("transfer_id").from("ledger_entries")
                .where("company_id", .equal, SQLBind(companyId)).where("transfer_id", .in, SQLBind.group(part)).all()
            for row in rows { seen.append(try row.decode(column: "transfer_id", as: String.self)) }
        }
        for part in seen.chunked(Self.chunk) {
            let rows = try await db.select().columns(Self.entryColumns.map { SQLColumn($0) }).from("ledger_entries")
                .where("company_id", .equal, SQLBind(companyId)).where("transfer_id", .in, SQLBind.group(part)).all()
            for row in rows {
                let entry = try Self.entry(from: row)
                state.appliedEntries[entry.transferId] = entry
            }
        }
        // Holds, and the accounts they name.
        var holdRows:
            [(
                id: String, community: String, debit: String, credit: String, amount: Int64, currency: String,
                code: String, expiresAt: Int64, status: String
            )] = []
        for part in Array(holdIds).chunked(Self.chunk) {
            let rows = try await db.raw(
                """
                SELECT id, community_id, debit_account_id, credit_account_id, amount, currency, code, expires_at, status
                FROM ledger_holds WHERE company_id = \(bind: companyId) AND id IN (\(binds: part))\(unsafeRaw: lockSuffix)
                """
            ).all()
            for row in rows {
                let r = RowReader(row, table: "ledger_holds")
                holdRows.append(
                    (
                        try r.string("id"), try r.string("community_id"), try r.string("debit_account_id"),
                        try r.string("credit_account_id"), try r.int64("amount"), try r.string("currency"),
                        try r.string("code"), try r.int64("expires_at"), try r.string("status")
                    ))
            }
        }
        var accountIds = Set(keys.keys)
        for hold in holdRows { accountIds.insert(hold.debit); accountIds.insert(hold.credit) }
        let communities = Set(keys.values.map(\.communityId)).union(holdRows.map(\.community))

        // Community currencies and policies; communities outside the company make their accounts unavailable.
        var knownCommunities: Set<String> = []
        for part in Array(communities).chunked(Self.chunk) {
            let rows = try await db.select().columns("id", "currency").from("communities")
                .where("company_id", .equal, SQLBind(companyId)).where("id", .in, SQLBind.group(part)).all()
            for row in rows {
                let r = RowReader(row, table: "communities")
                let id = try r.string("id")
                knownCommunities.insert(id)
                state.communityCurrency[id] = try r.string("currency")
            }
            let policies = try await db.select().columns("community_id", "purpose", "emergency_credit").from("ledger_policies")
                .where("company_id", .equal, SQLBind(companyId)).where("community_id", .in, SQLBind.group(part)).all()
            for row in policies {
                let r = RowReader(row, table: "ledger_policies")
                state.emergencyCredit[LedgerState.emergencyKey(try r.string("community_id"), try r.string("purpose"))] =
                    try r.int64("emergency_credit")
            }
        }
        // Chain heads, created at genesis when missing, then locked: before any account. Every ledger writer takes a
        // community's head before its accounts, so a transaction that holds an account also holds its head, and a
        // second submission in the same transaction (a payment's bill postings, then its wallet credit) cannot wait on
        // an account another writer holds while that writer waits on this head. (The order was accounts, then heads:
        // the crash test found PostgreSQL deadlocks between an Alipay payment and a desk top-up.) docs/RELIABILITY.md
        // has the whole lock order.
        let chainCommunities = communities.intersection(knownCommunities).sorted()
        for part in chainCommunities.chunked(Self.chunk) {
            let insert = db.insert(into: "ledger_heads").columns("community_id", "company_id", "sequence", "hash")
            for community in part {
                insert.values(SQLBind(community), SQLBind(companyId), SQLBind(Int64(0)), SQLBind(JournalEntry.genesisHash))
            }
            try await insert.ignoringConflicts(with: ["community_id"]).run()
            let rows = try await db.raw(
                """
                SELECT community_id, sequence, hash FROM ledger_heads
                WHERE company_id = \(bind: companyId) AND community_id IN (\(binds: part)) ORDER BY community_id\(unsafeRaw: lockSuffix)
                """
            ).all()
            for row in rows {
                let r = RowReader(row, table: "ledger_heads")
                let head = ChainHead(communityId: try r.string("community_id"), sequence: try r.int64("sequence"), hash: try r.string("hash"))
                state.heads[head.communityId] = head
            }
        }
        // Lock and read the accounts that exist, in id order.
        try await lockAccounts(accountIds.sorted(), into: &state)
        // Open missing accounts whose owner exists in the company, then lock those too.
        let missing = keys.values.filter { state.accounts[$0.id] == nil }
        if !missing.isEmpty {
            let houseIds = Set(missing.filter { $0.owner != AccountKey.communityOwner }.map(\.owner))
            var knownHouses: Set<String> = []
            for part in Array(houseIds).chunked(Self.chunk) {
                let rows = try await db.select().columns("id", "community_id").from("houses")
                    .where("company_id", .equal, SQLBind(companyId)).where("id", .in, SQLBind.group(part)).all()
                for row in rows {
                    let r = RowReader(row, table: "houses")
                    knownHouses.insert(try r.string("community_id") + "|" + (try r.string("id")))
                }
            }
            var toOpen: [AccountKey] = []
            for key in missing {
                let ownerExists = key.owner == AccountKey.communityOwner || knownHouses.contains(key.communityId + "|" + key.owner)
                if knownCommunities.contains(key.communityId), ownerExists, key.problem == nil {
                    toOpen.append(key)
                } else {
                    state.unavailableAccounts.insert(key.id)
                }
            }
            try await open(toOpen, currencies: state.communityCurrency, now: now)
            try await lockAccounts(toOpen.map(\.id).sorted(), into: &state)
        }
        for hold in holdRows {
            guard let debit = state.accounts[hold.debit], let credit = state.accounts[hold.credit],
                let code = TransferCode(rawValue: hold.code), let status = Hold.Status(rawValue: hold.status)
            else {
                throw StorageError.corruptRow(table: "ledger_holds", column: "id")
            }
            state.holds[hold.id] = Hold(
                id: hold.id, communityId: hold.community, debit: debit.key, credit: credit.key,
                amount: hold.amount, currency: hold.currency, code: code, expiresAt: hold.expiresAt,
                status: status)
        }
    }

    /// Reads (and on PostgreSQL locks) accounts by id, in id order.
    private func lockAccounts(_ ids: [String], into state: inout LedgerState) async throws {
        for part in ids.chunked(Self.chunk) {
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.accountSelect)
                WHERE a.company_id = \(bind: companyId) AND a.id IN (\(binds: part)) ORDER BY a.id\(unsafeRaw: lockSuffix)
                """
            ).all()
            for row in rows {
                let account = try Self.account(from: row)
                state.accounts[account.id] = account
            }
        }
    }

    private func open(_ keys: [AccountKey], currencies: [String: String], now: Date) async throws {
        let millis = now.epochMilliseconds
        for part in keys.sorted(by: { $0.id < $1.id }).chunked(200) {
            let insert = db.insert(into: "ledger_accounts").columns(Self.identityColumns)
            let balances = db.insert(into: "ledger_balances").columns("account_id")
            for key in part {
                insert.values(
                    SQLBind(key.id), SQLBind(companyId), SQLBind(key.communityId), SQLBind(key.kind.rawValue),
                    SQLBind(key.owner), SQLBind(key.purpose), SQLBind(currencies[key.communityId] ?? "CNY"),
                    SQLBind(millis), SQLBind(millis))
                balances.values(SQLBind(key.id))
            }
            try await insert.ignoringConflicts(with: ["id"]).run()
            try await balances.ignoringConflicts(with: ["account_id"]).run()
        }
    }

    // MARK: Writing

    /// Writes the entries, accounts, holds and heads that `state` changed.
    public func write(_ state: LedgerState, now: Date) async throws {
        for part in state.newEntries.chunked(Self.chunk) {
            let insert = db.insert(into: "ledger_entries").columns(Self.entryColumns)
            for entry in part {
                insert.values(
                    SQLBind(entry.companyId), SQLBind(entry.communityId), SQLBind(entry.sequence), SQLBind(entry.transferId),
                    SQLBind(entry.type.rawValue), SQLBind(entry.debitAccountId), SQLBind(entry.creditAccountId),
                    SQLBind(entry.amount), SQLBind(entry.pendingAmount), SQLBind(entry.currency),
                    SQLBind(entry.code.rawValue), sqlValue(entry.reference), SQLBind(entry.actor), sqlValue(entry.holdId),
                    sqlValue(entry.expiresAt), SQLBind(entry.recordedAt), SQLBind(entry.contentDigest),
                    SQLBind(entry.debitBalanceAfter), SQLBind(entry.creditBalanceAfter), SQLBind(entry.previousHash),
                    SQLBind(entry.hash), SQLBind(entry.debitPrevious), SQLBind(entry.creditPrevious))
            }
            try await insert.run()
        }
        let accounts = state.changedAccounts.sorted().compactMap { state.accounts[$0] }
        for part in accounts.chunked(Self.chunk / 2) {
            let insert = db.insert(into: "ledger_balances").columns(
                "account_id", "debits_posted", "credits_posted", "debits_pending",
                "credits_pending", "last_sequence")
            for account in part {
                insert.values(
                    SQLBind(account.id), SQLBind(account.debitsPosted), SQLBind(account.creditsPosted),
                    SQLBind(account.debitsPending), SQLBind(account.creditsPending), SQLBind(account.lastSequence))
            }
            try await insert.onConflict(with: ["account_id"]) { update in
                update.set(excludedValueOf: "debits_posted").set(excludedValueOf: "credits_posted")
                    .set(excludedValueOf: "debits_pending").set(excludedValueOf: "credits_pending").set(excludedValueOf: "last_sequence")
            }.run()
        }
        let holds = state.changedHolds.sorted().compactMap { state.holds[$0] }
        for part in holds.chunked(Self.chunk / 2) {
            let insert = db.insert(into: "ledger_holds").columns(
                "id", "company_id", "community_id", "debit_account_id",
                "credit_account_id", "amount", "currency", "code", "expires_at", "status")
            for hold in part {
                insert.values(
                    SQLBind(hold.id), SQLBind(companyId), SQLBind(hold.communityId), SQLBind(hold.debit.id),
                    SQLBind(hold.credit.id), SQLBind(hold.amount), SQLBind(hold.currency), SQLBind(hold.code.rawValue),
                    SQLBind(hold.expiresAt), SQLBind(hold.status.rawValue))
            }
            try await insert.onConflict(with: ["company_id", "id"]) { $0.set(excludedValueOf: "status") }.run()
        }
        for head in state.movedHeads.sorted(by: { $0.communityId < $1.communityId }) {
            try await db.update("ledger_heads").set("sequence", to: SQLBind(head.sequence)).set("hash", to: SQLBind(head.hash))
                .where("community_id", .equal, SQLBind(head.communityId)).where("company_id", .equal, SQLBind(companyId)).run()
        }
    }

    // MARK: Queries

    /// One account, by id, within the company.
    public func account(id: String) async throws -> Account? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: Self.accountSelect) WHERE a.company_id = \(bind: companyId) AND a.id = \(bind: id)
            """
        ).first().map(Self.account(from:))
    }

    /// The account's posted balance at `instant`: the balance recorded by its last entry at or before it.
    ///
    /// Walks the account's chain back from its last entry (one primary-key
    /// lookup per entry newer than `instant`), in one recursive query.
    public func balance(of account: Account, asOf instant: Date) async throws -> Int64 {
        let millis = instant.epochMilliseconds
        let row = try await db.raw(
            """
            WITH RECURSIVE chain(seq) AS (
                SELECT b.last_sequence FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
                WHERE a.id = \(bind: account.id) AND a.company_id = \(bind: companyId)
                UNION ALL
                SELECT CASE WHEN e.debit_account_id = \(bind: account.id) THEN e.debit_previous ELSE e.credit_previous END
                FROM chain JOIN ledger_entries e ON e.community_id = \(bind: account.key.communityId) AND e.sequence = chain.seq
                WHERE chain.seq > 0 AND e.recorded_at > \(bind: millis)
                  AND (e.debit_account_id = \(bind: account.id) OR e.credit_account_id = \(bind: account.id))
            )
            SELECT e.debit_account_id, e.debit_balance_after, e.credit_balance_after
            FROM chain JOIN ledger_entries e ON e.community_id = \(bind: account.key.communityId) AND e.sequence = chain.seq
            WHERE e.company_id = \(bind: companyId) AND e.recorded_at <= \(bind: millis)
              AND (e.debit_account_id = \(bind: account.id) OR e.credit_account_id = \(bind: account.id))
            ORDER BY e.sequence DESC LIMIT 1
            """
        ).first()
        guard let row else { return 0 }
        let r = RowReader(row, table: "ledger_entries")
        return try r.string("debit_account_id") == account.id ? try r.int64("debit_balance_after") : try r.int64("credit_balance_after")
    }

    /// Up to `limit` entries touching the account, newest first, starting at sequence `from` (its last entry when nil).
    ///
    /// A page continues where the previous one stopped: pass the `debitPrevious`
    /// or `creditPrevious` of the last entry returned (whichever side is this
    /// account). An entry that does not touch the account ends the walk, so a
    /// made-up cursor shows nothing of other accounts.
    public func statement(of account: Account, from start: Int64?, limit: Int) async throws -> [JournalEntry] {
        let first = start ?? account.lastSequence
        guard first > 0, limit > 0 else { return [] }
        let rows = try await db.raw(
            """
            WITH RECURSIVE chain(seq, n) AS (
                SELECT CAST(\(bind: first) AS BIGINT), 1
                UNION ALL
                SELECT CASE WHEN e.debit_account_id = \(bind: account.id) THEN e.debit_previous ELSE e.credit_previous END, chain.n + 1
                FROM chain JOIN ledger_entries e ON e.community_id = \(bind: account.key.communityId) AND e.sequence = chain.seq
                WHERE chain.seq > 0 AND chain.n < \(bind: limit)
                  AND (e.debit_account_id = \(bind: account.id) OR e.credit_account_id = \(bind: account.id))
            )
            SELECT \(unsafeRaw: Self.entryColumns.map { "e." + $0 }.joined(separator: ", "))
            FROM chain JOIN ledger_entries e ON e.community_id = \(bind: account.key.communityId) AND e.sequence = chain.seq
            WHERE e.company_id = \(bind: companyId)
              AND (e.debit_account_id = \(bind: account.id) OR e.credit_account_id = \(bind: account.id))
            ORDER BY e.sequence DESC
            """
        ).all()
        return try rows.map(Self.entry(from:))
    }

    /// Posted debit and credit totals per account kind in a community; the sums must be equal.
    public func trialBalance(community: String) async throws -> [(kind: String, debits: Int64, credits: Int64)] {
        let rows = try await db.raw(
            """
            SELECT a.kind AS kind, CAST(SUM(b.debits_posted) AS BIGINT) AS debits, CAST(SUM(b.credits_posted) AS BIGINT) AS credits
            FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
            WHERE a.company_id = \(bind: companyId) AND a.community_id = \(bind: community) GROUP BY a.kind ORDER BY a.kind
            """
        ).all()
        return try rows.map { row in
            let r = RowReader(row, table: "ledger_accounts")
            return (try r.string("kind"), try r.int64("debits"), try r.int64("credits"))
        }
    }

    /// The community's chain head (genesis when nothing was written).
    public func head(community: String) async throws -> ChainHead {
        let row = try await db.select().columns("community_id", "sequence", "hash").from("ledger_heads")
            .where("company_id", .equal, SQLBind(companyId)).where("community_id", .equal, SQLBind(community)).first()
        guard let row else { return ChainHead(communityId: community, sequence: 0, hash: JournalEntry.genesisHash) }
        let r = RowReader(row, table: "ledger_heads")
        return ChainHead(communityId: community, sequence: try r.int64("sequence"), hash: try r.string("hash"))
    }

    /// Sets a community's emergency credit for wallets of `purpose`.
    public func setEmergencyCredit(community: String, purpose: String, amount: Int64) async throws {
        try await db.insert(into: "ledger_policies").columns("company_id", "community_id", "purpose", "emergency_credit")
            .values(SQLBind(companyId), SQLBind(community), SQLBind(purpose), SQLBind(amount))
            .onConflict(with: ["community_id", "purpose"]) { $0.set(excludedValueOf: "emergency_credit") }.run()
    }

    /// Ids of pending holds due to expire at `now`, across companies, oldest first.
    public static func dueHolds(_ db: any SQLDatabase, now: Date, limit: Int) async throws -> [(companyId: String, holdId: String)] {
        let rows = try await db.raw(
            """
            SELECT company_id, id FROM ledger_holds WHERE status = 'pending' AND expires_at <= \(bind: now.epochMilliseconds)
            ORDER BY expires_at LIMIT \(bind: limit)
            """
        ).all()
        return try rows.map { row in
            let r = RowReader(row, table: "ledger_holds")
            return (try r.string("company_id"), try r.string("id"))
        }
    }

    // MARK: Row mapping

    static func account(from row: any SQLRow) throws -> Account {
        let r = RowReader(row, table: "ledger_accounts")
        let key = AccountKey(
            communityId: try r.string("community_id"), kind: try r.value("kind", as: AccountKind.self),
            owner: try r.string("owner"), purpose: try r.string("purpose"))
        return Account(
            key: key, currency: try r.string("currency"), debitsPosted: try r.int64("debits_posted"),
            creditsPosted: try r.int64("credits_posted"), debitsPending: try r.int64("debits_pending"),
            creditsPending: try r.int64("credits_pending"), lastSequence: try r.int64("last_sequence"))
    }

    static func entry(from row: any SQLRow) throws -> JournalEntry {
        let r = RowReader(row, table: "ledger_entries")
        return JournalEntry(
            companyId: try r.string("company_id"), communityId: try r.string("community_id"), sequence: try r.int64("sequence"),
            transferId: try r.string("transfer_id"), type: try r.value("type", as: JournalEntry.EntryType.self),
            debitAccountId: try r.string("debit_account_id"), creditAccountId: try r.string("credit_account_id"),
            amount: try r.int64("amount"), pendingAmount: try r.int64("pending_amount"), currency: try r.string("currency"),
            code: try r.value("code", as: TransferCode.self), reference: try r.optionalString("reference"),
            actor: try r.string("actor"), holdId: try r.optionalString("hold_id"), expiresAt: try r.optionalInt64("expires_at"),
            recordedAt: try r.int64("recorded_at"), contentDigest: try r.string("content_digest"),
            debitBalanceAfter: try r.int64("debit_balance_after"), creditBalanceAfter: try r.int64("credit_balance_after"),
            previousHash: try r.string("previous_hash"), hash: try r.string("hash"),
            debitPrevious: try r.int64("debit_previous"), creditPrevious: try r.int64("credit_previous"))
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    public func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
