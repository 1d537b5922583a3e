import CourtyardDomain
import CourtyardLedger
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

/// A seeded company with a community and houses, and a ledger writer over it.
struct LedgerFixture {
    let database: Database
    let writer: LedgerWriter
    let companyId: String
    let otherCompanyId: String
    let community: String
    let houses: [String]
    let otherHouse: String
    let clock: ManualClock

    static func with(_ engine: TestEngine, fastPaths: FastPaths? = nil, _ body: (LedgerFixture) async throws -> Void) async throws {
        try await engine.withDatabase(fastPaths: fastPaths) { database in
            let companies = try await TwoCompanies.seed(database)
            let scope = TenantScope(companyId: companies.a.companyId)
            let houses = try await database.read { db in try await ScopedStore(db, scope: scope).list(House.self, limit: 100).items }
            let other = try await database.read { db in
                try await ScopedStore(db, scope: TenantScope(companyId: companies.b.companyId)).list(House.self, limit: 1).items
            }
            let community = houses[0].communityId
            let clock = ManualClock(Date(timeIntervalSince1970: 1_790_000_000))
            let fixture = LedgerFixture(
                database: database, writer: LedgerWriter(database: database, clock: clock),
                companyId: companies.a.companyId, otherCompanyId: companies.b.companyId,
                community: community, houses: houses.filter { $0.communityId == community }.map(\.id),
                otherHouse: other[0].id, clock: clock)
            try await body(fixture)
        }
    }

    var cash: AccountKey { .community(community, .clearing, purpose: "cash") }
    var revenue: AccountKey { .community(community, .revenue, purpose: "electricity") }
    func wallet(_ house: Int = 0, _ purpose: String = "electricity") -> AccountKey { .wallet(community, house: houses[house], purpose: purpose) }

    func topUp(_ id: String, _ amount: Int64, house: Int = 0) -> LedgerOperation {
        .transfer(Transfer(id: id, debit: cash, credit: wallet(house), amount: amount, code: .topUp, actor: "test"))
    }

    func deduct(_ id: String, _ amount: Int64, house: Int = 0) -> LedgerOperation {
        .transfer(Transfer(id: id, debit: wallet(house), credit: revenue, amount: amount, code: .deduction, actor: "test"))
    }

    func balance(_ key: AccountKey) async throws -> Int64 {
        try await database.read { db in
            try await LedgerStore(db, companyId: companyId, engine: database.engine).account(id: key.id)?.balance ?? 0
        }
    }

    func entryCount() async throws -> Int {
        try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM ledger_entries").first()!.decode(column: "n", as: Int.self) }
    }
}

@Suite("Ledger storage")
struct LedgerStorageTests {
    @Test("transfers are durable, replays return the original, conflicting replays are refused", arguments: TestEngine.available)
    func idempotentTransfers(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let first = try await ledger.writer.submit(companyId: ledger.companyId, ledger.topUp("t-1", 10_000)).get()
            #expect(!first.replayed)
            #expect(first.entry.sequence == 1)
            let again = try await ledger.writer.submit(companyId: ledger.companyId, ledger.topUp("t-1", 10_000)).get()
            #expect(again.replayed)
            #expect(again.entry == first.entry)
            let conflict = try await ledger.writer.submit(companyId: ledger.companyId, ledger.topUp("t-1", 9_999))
            #expect(conflict == .failure(.idempotencyConflict(transferId: "t-1")))
            _ = try await ledger.writer.submit(companyId: ledger.companyId, ledger.deduct("d-1", 2_500)).get()
            #expect(try await ledger.balance(ledger.wallet()) == 7_500)
            #expect(try await ledger.entryCount() == 2)
            let trial = try await ledger.database.read { db in
                try await LedgerStore(db, companyId: ledger.companyId, engine: engine == .sqlite ? .sqlite : .postgres)
                    .trialBalance(community: ledger.community)
            }
            #expect(trial.reduce(0) { $0 + $1.debits } == trial.reduce(0) { $0 + $1.credits })
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("refused operations write nothing and do not fail their neighbours", arguments: TestEngine.available)
    func refusalsWriteNothing(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let foreignWallet = AccountKey.wallet(ledger.community, house: ledger.otherHouse, purpose: "water")
            let outcomes = try await ledger.writer.submit(
                companyId: ledger.companyId,
                [
                    ledger.topUp("ok-1", 500),
                    ledger.deduct("too-much", 501),
                    .transfer(Transfer(id: "foreign", debit: ledger.cash, credit: foreignWallet, amount: 5, code: .topUp, actor: "t")),
                    .transfer(
                        Transfer(
                            id: "nohouse", debit: ledger.cash, credit: .wallet(ledger.community, house: "missing", purpose: "water"),
                            amount: 5, code: .topUp, actor: "t")),
                    ledger.deduct("ok-2", 500),
                ])
            #expect((try? outcomes[0].get()) != nil)
            #expect(
                outcomes[1] == .failure(.insufficientBalance(accountId: ledger.wallet().id, available: 0, requested: 501))
                    || { if case .failure(.insufficientBalance) = outcomes[1] { return true } else { return false } }())
            #expect(outcomes[2] == .failure(.unknownAccount(foreignWallet.id)))
            #expect({ if case .failure(.unknownAccount) = outcomes[3] { return true } else { return false } }())
            #expect((try? outcomes[4].get()) != nil)
            #expect(try await ledger.entryCount() == 2)
            #expect(try await ledger.balance(ledger.wallet()) == 0)
            let linked = try await ledger.writer.submit(
                companyId: ledger.companyId, [ledger.topUp("l-1", 100), ledger.deduct("l-2", 101)],
                linked: true)
            #expect(linked.map { if case .failure = $0 { "refused" } else { "applied" } } == ["refused", "refused"])
            #expect(try await ledger.entryCount() == 2)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("linked groups in one submission succeed or fail each on its own, all or nothing within a group", arguments: TestEngine.available)
    func linkedGroupsAreIndependent(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let answers = try await ledger.writer.submit(
                companyId: ledger.companyId,
                linkedGroups: [
                    [ledger.topUp("g1-a", 100), ledger.deduct("g1-b", 40)],  // applies: 60 left
                    [ledger.topUp("g2-a", 100), ledger.deduct("g2-b", 1_000)],  // refused as a whole: neither applies
                    [],
                    [ledger.deduct("g3-a", 60)],  // applies after the first group: 0 left
                ])
            #expect(answers.map(\.count) == [2, 2, 0, 1])
            #expect(answers[0].map { (try? $0.get()) != nil } == [true, true])
            #expect(answers[1].map { if case .failure = $0 { true } else { false } } == [true, true])
            #expect((try? answers[3][0].get()) != nil)
            #expect(try await ledger.entryCount() == 3)
            #expect(try await ledger.balance(ledger.wallet()) == 0)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("holds reserve, post in part, and expire when their time passes", arguments: TestEngine.available)
    func holdsLifecycle(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let company = ledger.companyId
            _ = try await ledger.writer.submit(companyId: company, ledger.topUp("top", 1_000)).get()
            let expiry = ledger.clock.now().epochMilliseconds + 60_000
            _ = try await ledger.writer.submit(
                companyId: company,
                .hold(
                    Transfer(id: "park-1", debit: ledger.wallet(), credit: ledger.revenue, amount: 700, code: .deduction, actor: "t"),
                    expiresAt: expiry)
            ).get()
            let refused = try await ledger.writer.submit(companyId: company, ledger.deduct("d", 400))
            #expect({ if case .failure(.insufficientBalance) = refused { return true } else { return false } }())
            _ = try await ledger.writer.submit(companyId: company, .postHold(id: "park-1-post", holdId: "park-1", amount: 300, actor: "t")).get()
            #expect(try await ledger.balance(ledger.wallet()) == 700)
            _ = try await ledger.writer.submit(
                companyId: company,
                .hold(
                    Transfer(id: "park-2", debit: ledger.wallet(), credit: ledger.revenue, amount: 600, code: .deduction, actor: "t"),
                    expiresAt: expiry)
            ).get()
            #expect(try await ledger.writer.expireDueHolds() == 0)
            ledger.clock.advance(seconds: 61)
            #expect(try await ledger.writer.expireDueHolds() == 1)
            _ = try await ledger.writer.submit(companyId: company, ledger.deduct("d-after", 700)).get()
            #expect(try await ledger.balance(ledger.wallet()) == 0)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("64 concurrent top-ups and deductions on one wallet add up exactly", arguments: TestEngine.available)
    func concurrentWalletUpdates(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            try await ledger.database.transaction { db in
                try await LedgerStore(db, companyId: ledger.companyId, engine: ledger.database.engine)
                    .setEmergencyCredit(community: ledger.community, purpose: "electricity", amount: 1_000)
            }
            let results = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
                for task in 0..<64 {
                    group.addTask {
                        var net: Int64 = 0
                        var refusedBeyondRule = true
                        for step in 0..<10 {
                            let amount = Int64((task * 7 + step * 13) % 300 + 1)
                            let op = (task + step) % 3 == 0 ? ledger.topUp("c-\(task)-\(step)", amount) : ledger.deduct("c-\(task)-\(step)", amount)
                            switch try await ledger.writer.submit(companyId: ledger.companyId, op) {
                            case .success: net += (task + step) % 3 == 0 ? amount : -amount
                            case .failure(.insufficientBalance): break
                            case .failure: refusedBeyondRule = false
                            }
                        }
                        return (net, refusedBeyondRule)
                    }
                }
                var all: [(Int64, Bool)] = []
                for try await result in group { all.append(result) }
                return all
            }
            let expected = results.reduce(Int64(0)) { $0 + $1.0 }
            let allRefusalsWereBalanceRule = results.allSatisfy { $0.1 }
            #expect(allRefusalsWereBalanceRule)
            let balance = try await ledger.balance(ledger.wallet())
            #expect(balance == expected)
            #expect(balance >= -1_000)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("ledger verify names an edited, deleted or reordered entry", arguments: TestEngine.available)
    func tamperingIsDetected(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            for index in 0..<6 {
                _ = try await ledger.writer.submit(companyId: ledger.companyId, ledger.topUp("tt-\(index)", Int64(100 + index), house: index % 2))
                    .get()
            }
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
            try await ledger.database.transaction { db in
                try await db.raw("UPDATE ledger_entries SET amount = amount + 1 WHERE transfer_id = 'tt-3'").run()
            }
            var report = try await LedgerAudit.verify(ledger.database)
            #expect(report.divergence?.id == "tt-3")
            #expect(report.divergence?.reason == .hashMismatch)
            try await ledger.database.transaction { db in
                try await db.raw("UPDATE ledger_entries SET amount = amount - 1 WHERE transfer_id = 'tt-3'").run()
                try await db.raw("DELETE FROM ledger_entries WHERE transfer_id = 'tt-2'").run()
            }
            report = try await LedgerAudit.verify(ledger.database)
            #expect(report.divergence?.id == "tt-3")
            #expect(report.divergence?.reason == .sequenceGap)
        }
    }

    @Test("a replay answers with the original even when the operation would now be refused", arguments: TestEngine.available)
    func replayOfWhatWouldNowFail(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let company = ledger.companyId
            _ = try await ledger.writer.submit(companyId: company, ledger.topUp("r-1", 1_000)).get()
            let spent = try await ledger.writer.submit(companyId: company, ledger.deduct("r-2", 1_000)).get()
            // The wallet is empty now, so a fresh "r-2" would be refused; its replay, alone or amid new work, is not.
            let alone = try await ledger.writer.submit(companyId: company, ledger.deduct("r-2", 1_000)).get()
            #expect(alone.replayed && alone.entry == spent.entry)
            let mixed = try await ledger.writer.submit(
                companyId: company,
                [
                    ledger.topUp("r-3", 5), ledger.deduct("r-2", 1_000),
                    ledger.deduct("r-4", 5),
                ])
            #expect(mixed.map { (try? $0.get())?.replayed } == [false, true, false])
            #expect(try await ledger.balance(ledger.wallet()) == 0)
            #expect(try await ledger.entryCount() == 4)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("migration 4 links an existing journal's entries to each account's previous entry", arguments: TestEngine.available)
    func accountLinksAreBackfilled(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let company = ledger.companyId
            for index in 0..<6 {
                _ = try await ledger.writer.submit(companyId: company, ledger.topUp("b-\(index)", 100, house: index % 3)).get()
            }
            for index in 0..<6 {
                _ = try await ledger.writer.submit(companyId: company, ledger.deduct("c-\(index)", 10, house: (index + 1) % 3)).get()
            }
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
            // Forget the links, as a journal written before migration 4 has none, then run its backfill statements.
            let migration = try #require(Schema.migrations.first { $0.version == 4 })
            try await ledger.database.transaction { db in
                try await db.raw("UPDATE ledger_entries SET debit_previous = 0, credit_previous = 0").run()
                try await db.raw("UPDATE ledger_balances SET last_sequence = 0").run()
            }
            #expect(try await LedgerAudit.verify(ledger.database).divergence?.reason == .brokenAccountLink)
            try await ledger.database.transaction { db in
                for statement in migration.statements where statement.contains("UPDATE") {
                    try await db.raw(SQLQueryString(statement)).run()
                }
            }
            let report = try await LedgerAudit.verify(ledger.database)
            #expect(report.isValid, "\(String(describing: report.divergence))")
            #expect(report.entries == 12)
        }
    }

    @Test("on SQLite, warm batches are applied while the previous one commits, and a replay among them falls back")
    func pipelinedBatches() async throws {
        try await LedgerFixture.with(.sqlite, fastPaths: .all) { ledger in
            let company = ledger.companyId
            // The first batch opens the accounts (sequential path); later ones find everything in the kept state.
            _ = try await ledger.writer.submit(companyId: company, [ledger.topUp("p-0", 10_000), ledger.topUp("p-1", 10_000, house: 1)])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        let outcome = try await ledger.writer.submit(companyId: company, ledger.deduct("p-d\(index)", 10, house: index % 2))
                        #expect((try? outcome.get())?.replayed == false)
                    }
                }
                try await group.waitForAll()
            }
            let warm = await ledger.writer.statistics
            #expect(warm.pipelined >= 1)
            #expect(warm.rerun == 0)
            // A replay goes through the pipeline, meets the journal's unique index, and is answered with the original.
            let replay = try await ledger.writer.submit(companyId: company, [ledger.deduct("p-d0", 10), ledger.deduct("p-new", 10)])
            #expect(replay.map { (try? $0.get())?.replayed } == [true, false])
            let after = await ledger.writer.statistics
            #expect(after.rerun == warm.rerun + 1)
            #expect(try await ledger.balance(ledger.wallet(0)) + ledger.balance(ledger.wallet(1)) == 20_000 - 33 * 10)
            // New accounts open in a pipelined batch when their house exists, and are refused when it does not
            // (or belongs to another company).
            let before = await ledger.writer.statistics
            let opening = try await ledger.writer.submit(
                companyId: company,
                [
                    ledger.topUp("p-open", 70, house: 2),
                    .transfer(
                        Transfer(
                            id: "p-ghost", debit: ledger.cash, credit: .wallet(ledger.community, house: "no-such-house", purpose: "water"),
                            amount: 5, code: .topUp, actor: "test")),
                    .transfer(
                        Transfer(
                            id: "p-other", debit: ledger.cash, credit: .wallet(ledger.community, house: ledger.otherHouse, purpose: "water"),
                            amount: 5, code: .topUp, actor: "test")),
                ])
            #expect((try? opening[0].get())?.replayed == false)
            #expect(opening[1] == .failure(.unknownAccount(AccountKey.wallet(ledger.community, house: "no-such-house", purpose: "water").id)))
            #expect(opening[2] == .failure(.unknownAccount(AccountKey.wallet(ledger.community, house: ledger.otherHouse, purpose: "water").id)))
            let after2 = await ledger.writer.statistics
            #expect(after2.pipelined == before.pipelined + 1)
            #expect(try await ledger.balance(ledger.wallet(2)) == 70)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("on SQLite, a kept state cut back to its batch in flight still applies every batch to current balances")
    func keptStateIsCutBack() async throws {
        try await LedgerFixture.with(.sqlite, fastPaths: .all) { ledger in
            // Room for two accounts: every pipelined batch touches four (cash, revenue, two wallets), so each prepare
            // cuts the state back to what its own batch changed and the next one reads the rest again.
            let writer = LedgerWriter(database: ledger.database, clock: ledger.clock, keptAccounts: 2)
            let company = ledger.companyId
            _ = try await writer.submit(companyId: company, [ledger.topUp("k-0", 1_000), ledger.topUp("k-1", 1_000, house: 1)])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let house = index % 2
                        let operations =
                            index % 4 < 2
                            ? [ledger.deduct("k-d\(index)", 7, house: house)]
                            : [ledger.topUp("k-t\(index)", 3, house: house), ledger.deduct("k-d\(index)", 5, house: house)]
                        for outcome in try await writer.submit(companyId: company, operations) { _ = try outcome.get() }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await writer.statistics.pipelined >= 1)
            #expect(await writer.statistics.rerun == 0)
            // 20 deductions of 7, 20 top-ups of 3 and 20 deductions of 5 over two wallets of 1,000.
            #expect(try await ledger.balance(ledger.wallet(0)) + ledger.balance(ledger.wallet(1)) == 2_000 - 20 * 7 + 20 * 3 - 20 * 5)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("balances as of an instant and statements come from the journal", arguments: TestEngine.available)
    func balancesAndStatements(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let company = ledger.companyId
            _ = try await ledger.writer.submit(companyId: company, ledger.topUp("s-1", 1_000)).get()
            let afterFirst = ledger.clock.now()
            ledger.clock.advance(seconds: 10)
            _ = try await ledger.writer.submit(companyId: company, ledger.deduct("s-2", 300)).get()
            ledger.clock.advance(seconds: 10)
            _ = try await ledger.writer.submit(companyId: company, ledger.topUp("other", 50, house: 1)).get()
            _ = try await ledger.writer.submit(companyId: company, ledger.deduct("s-3", 200)).get()
            try await ledger.database.read { db in
                let store = LedgerStore(db, companyId: company, engine: ledger.database.engine)
                let account = try #require(try await store.account(id: ledger.wallet().id))
                #expect(account.balance == 500)
                #expect(try await store.balance(of: account, asOf: afterFirst) == 1_000)
                #expect(try await store.balance(of: account, asOf: afterFirst.addingTimeInterval(-1)) == 0)
                // Newest first, each page continuing from the account's link in the last entry shown.
                let page1 = try await store.statement(of: account, from: nil, limit: 2)
                #expect(page1.map(\.transferId) == ["s-3", "s-2"])
                #expect(page1[0].debitBalanceAfter == 500)
                let last = try #require(page1.last)
                let next = last.debitAccountId == account.id ? last.debitPrevious : last.creditPrevious
                let page2 = try await store.statement(of: account, from: next, limit: 2)
                #expect(page2.map(\.transferId) == ["s-1"])
                #expect(page2[0].creditBalanceAfter == 1_000)
                #expect(page2[0].creditPrevious == 0)
                // A cursor at another account's entry shows nothing.
                let others = try #require(try await store.account(id: ledger.wallet(1).id))
                #expect(try await store.statement(of: account, from: others.lastSequence, limit: 5).isEmpty)
                // Another company sees nothing.
                let other = LedgerStore(db, companyId: ledger.otherCompanyId, engine: ledger.database.engine)
                #expect(try await other.account(id: account.id) == nil)
            }
        }
    }
}

@Suite("Ledger writers sharing a database")
struct LedgerSharedWriterTests {
    @Test("two writers on one database (fast path and SQLKit path) never work from stale balances", arguments: TestEngine.available)
    func writersSeeEachOther(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let other = LedgerWriter(database: ledger.database, clock: ledger.clock, sqliteFastPath: false)
            let company = ledger.companyId
            _ = try await ledger.writer.submit(companyId: company, ledger.topUp("w-1", 1_000)).get()
            _ = try await other.submit(companyId: company, ledger.deduct("w-2", 600)).get()
            // The first writer must see the second's deduction: 400 left, so 500 is refused and 400 is not.
            let refused = try await ledger.writer.submit(companyId: company, ledger.deduct("w-3", 500))
            #expect({ if case .failure(.insufficientBalance) = refused { return true } else { return false } }())
            _ = try await ledger.writer.submit(companyId: company, ledger.deduct("w-4", 400)).get()
            _ = try await other.submit(companyId: company, ledger.topUp("w-5", 50)).get()
            _ = try await ledger.writer.submit(companyId: company, ledger.deduct("w-6", 50)).get()
            #expect(try await ledger.balance(ledger.wallet()) == 0)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }
}

@Suite("Ledger writers racing in opposite directions")
struct LedgerOppositeDirectionTests {
    /// Four writers on one database, as four server processes would be: each moves money both ways between two wallets
    /// and submits linked groups that go round three. On PostgreSQL the transactions run at once and take the same rows
    /// in different orders of arrival (the deadlock and serialization failures a careless writer surfaces); on SQLite
    /// they queue on the single writer. Every submission must apply exactly once, and the balances must be what the
    /// transfers add up to.
    @Test("four writers moving money both ways and round three wallets never deadlock, lose or double a transfer", arguments: TestEngine.available)
    func oppositeDirections(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            let company = ledger.companyId
            for house in 0..<3 { _ = try await ledger.writer.submit(companyId: company, ledger.topUp("seed-\(house)", 100_000, house: house)).get() }
            let writers = [ledger.writer] + (1..<4).map { _ in LedgerWriter(database: ledger.database, clock: ledger.clock, sqliteFastPath: false) }
            func move(_ id: String, from: Int, to: Int, _ amount: Int64) -> LedgerOperation {
                .transfer(Transfer(id: id, debit: ledger.wallet(from), credit: ledger.wallet(to), amount: amount, code: .walletTransfer, actor: "test"))
            }
            let rounds = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, writer) in writers.enumerated() {
                    group.addTask {
                        for round in 0..<rounds {
                            // Even writers move 0 → 1, odd writers 1 → 0: the same two rows, locked from opposite ends.
                            let (from, to) = index % 2 == 0 ? (0, 1) : (1, 0)
                            _ = try await writer.submit(companyId: company, move("m-\(index)-\(round)", from: from, to: to, 7)).get()
                            // A linked group round the three wallets (0 → 1 → 2 → 0), all or nothing.
                            let outcomes = try await writer.submit(
                                companyId: company,
                                [
                                    move("g-\(index)-\(round)-a", from: 0, to: 1, 3), move("g-\(index)-\(round)-b", from: 1, to: 2, 3),
                                    move("g-\(index)-\(round)-c", from: 2, to: 0, 3),
                                ], linked: true)
                            for outcome in outcomes { _ = try outcome.get() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Writers 0 and 2 moved 2 × 20 × 7 = 280 from 0 to 1, writers 1 and 3 the same back; the groups net to zero.
            #expect(try await ledger.balance(ledger.wallet(0)) == 100_000)
            #expect(try await ledger.balance(ledger.wallet(1)) == 100_000)
            #expect(try await ledger.balance(ledger.wallet(2)) == 100_000)
            // 3 top-ups, then per writer and round one move and a group of three: 3 + 4 × 20 × 4.
            #expect(try await ledger.entryCount() == 323)
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
            // Replaying every id changes nothing.
            let replay = try await writers[3].submit(companyId: company, move("m-0-0", from: 0, to: 1, 7))
            #expect((try? replay.get()) != nil)
            #expect(try await ledger.entryCount() == 323)
        }
    }
}
