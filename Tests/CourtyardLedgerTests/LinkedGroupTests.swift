import CourtyardLedger
import Testing

/// A linked group applies every operation or none, and a refused group leaves the state exactly as it found it.
@Suite("Linked groups")
struct LinkedGroupTests {
    let community = "c1"
    var cash: AccountKey { .community(community, .clearing, purpose: "cash") }
    var revenue: AccountKey { .community(community, .revenue, purpose: "electricity") }
    var wallet: AccountKey { .wallet(community, house: "h1", purpose: "electricity") }
    let now: Int64 = 1_790_000_000_000

    func transfer(_ id: String, _ debit: AccountKey, _ credit: AccountKey, _ amount: Int64, _ code: TransferCode) -> LedgerOperation {
        .transfer(Transfer(id: id, debit: debit, credit: credit, amount: amount, code: code, actor: "test"))
    }

    @Test("a group refused at its last operation puts back accounts, heads, holds and the changed sets, and keeps no entry")
    func refusedGroupLeavesNoTrace() throws {
        var state = LedgerState(companyId: "company")
        _ = state.apply(transfer("t0", cash, wallet, 1_000, .topUp), at: now)
        let before = state
        let group: [LedgerOperation] = [
            transfer("t1", cash, wallet, 500, .topUp),
            .hold(Transfer(id: "h1", debit: wallet, credit: revenue, amount: 700, code: .deduction, actor: "test"), expiresAt: now + 60_000),
            transfer("t2", wallet, revenue, 900, .deduction),  // 1,500 less 700 held leaves 800: refused
        ]
        #expect(state.apply(linked: group, at: now) == .failure(.insufficientBalance(accountId: wallet.id, available: 800, requested: 900)))
        #expect(state.accounts == before.accounts)
        #expect(state.heads == before.heads)
        #expect(state.holds == before.holds)
        #expect(state.changedAccounts == before.changedAccounts)
        #expect(state.changedHolds == before.changedHolds)
        #expect(state.newEntries == before.newEntries)
        // None of the group's ids counts as applied: each applies afresh.
        let again = try #require(try? state.apply(transfer("t1", cash, wallet, 500, .topUp), at: now).get())
        #expect(!again.replayed)
        #expect(again.entry.sequence == 2)
    }

    @Test("a group that succeeds records its entries in order on one chain and answers each operation")
    func acceptedGroup() throws {
        var state = LedgerState(companyId: "company")
        let outcomes = try state.apply(
            linked: [transfer("a", cash, wallet, 300, .topUp), transfer("b", wallet, revenue, 200, .deduction)],
            at: now
        ).get()
        #expect(outcomes.map(\.entry.sequence) == [1, 2])
        #expect(outcomes[1].entry.previousHash == outcomes[0].entry.hash)
        #expect(state.accounts[wallet.id]?.balance == 100)
        #expect(state.newEntries.map(\.transferId) == ["a", "b"])
    }
}
