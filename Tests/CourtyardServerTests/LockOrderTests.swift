import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Writers take their PostgreSQL row locks in one order (docs/RELIABILITY.md): a community's prepaid plans, then its
/// ledger chain head, then its ledger accounts, and the company's receipt counter last. The crash test found deadlocks
/// (answered by running the victim again) where a payment had taken the receipt counter before the head while a refund
/// took them the other way, and where a top-up held accounts while waiting for the head that a payment held while
/// waiting for those accounts.
///
/// Each test holds a community's chain head in a transaction of its own, starts a writer, waits (with a deadline)
/// until PostgreSQL shows that writer waiting for the head, and then asks, without waiting, for the locks that must
/// still be free: any the writer took too early answer "lock not available".
@Suite("Lock order")
struct LockOrderTests {
    /// Whether some other session is waiting for a row lock while running a statement on `ledger_heads`.
    static func waitingForHead(_ api: APIFixture) async throws -> Bool {
        try await Prepaid.scalar(
            api,
            """
            SELECT COUNT(*) AS v FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND wait_event_type = 'Lock' AND query LIKE '%ledger_heads%'
            """) > 0
    }

    /// The rows of `table` that `predicate` names, locked and let go at once; the text of the error when another
    /// transaction holds one of them.
    static func lockedElsewhere(_ api: APIFixture, _ table: String, where predicate: String) async throws -> String? {
        do {
            try await api.database.transaction { db in
                _ = try await db.raw(SQLQueryString(stringLiteral: "SELECT 1 FROM \(table) WHERE \(predicate) FOR UPDATE NOWAIT")).all()
            }
            return nil
        } catch {
            return String(reflecting: error)
        }
    }

    /// The community of the setup's house.
    static func community(_ api: APIFixture, _ s: PrepaidAPITests.Setup) async throws -> String {
        try #require(try await api.call(.get, "/api/v1/houses/\(s.house)", token: s.finance).object["community_id"] as? String)
    }

    /// Runs `writer` while a transaction holds `community`'s chain head; `check` runs once the writer waits for it.
    static func whileHeadIsHeld(
        _ api: APIFixture, community: String, writer: @escaping @Sendable () async throws -> APIFixture.Reply,
        check: () async throws -> Void
    ) async throws -> APIFixture.Reply {
        let (held, holding) = AsyncStream<Void>.makeStream()
        let (release, releasing) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await api.database.transaction { db in
                _ = try await db.raw("SELECT sequence FROM ledger_heads WHERE community_id = \(bind: community) FOR UPDATE").all()
                holding.yield()
                for await _ in release { break }
            }
        }
        for await _ in held { break }
        let write = Task { try await writer() }
        let waiting = try await Prepaid.eventually { try await waitingForHead(api) }
        #expect(waiting, "the writer never waited for the chain head")
        if waiting { try await check() }
        releasing.finish()
        try await holder.value
        return try await write.value
    }

    @Test(
        "a top-up waiting for the chain head holds none of the community's ledger accounts",
        .enabled(if: TestEngine.available.contains(.postgres)))
    func topUpTakesTheHeadBeforeAccounts() async throws {
        try await APIFixture.with(.postgres, clock: ManualClock(PrepaidAPITests.start)) { api in
            let s = try await PrepaidAPITests.setup(api)
            // The wallet, clearing account and chain head exist after a first top-up.
            #expect(try await PrepaidAPITests.topUp(api, s, "10.00").status == .created)
            let community = try await Self.community(api, s)
            let reply = try await Self.whileHeadIsHeld(api, community: community) {
                try await PrepaidAPITests.topUp(api, s, "20.00")
            } check: {
                let accounts = try await Self.lockedElsewhere(api, "ledger_accounts", where: "community_id = '\(community)'")
                #expect(accounts == nil, "the top-up locked ledger accounts before the chain head: \(accounts ?? "")")
            }
            #expect(reply.status == .created, "\(reply.text)")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "a desk payment waiting for the chain head holds neither the receipt counter nor any ledger account",
        .enabled(if: TestEngine.available.contains(.postgres)))
    func paymentTakesTheReceiptCounterLast() async throws {
        try await APIFixture.with(.postgres, clock: ManualClock(PrepaidAPITests.start)) { api in
            let s = try await PrepaidAPITests.setup(api)
            let desk = try await api.login("frontdesk@alpha")
            let community = try await Self.community(api, s)
            let shift = try #require(
                try await api.call(
                    .post, "/api/v1/cashier-shifts", token: desk, json: ["community_id": community, "opening_float": Prepaid.money("0.00")]
                ).object["id"] as? String)
            @Sendable func pay(_ id: String) async throws -> APIFixture.Reply {
                try await api.call(
                    .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
                    json: [
                        "id": id, "house_id": s.house, "purpose": "top_up", "wallet_purpose": "electricity", "channel": "cash",
                        "amount": Prepaid.money("30.00"),
                    ])
            }
            // The receipt counter, accounts and chain head exist after a first payment.
            let first = try await pay("desk-1")
            #expect(first.status == .created, "\(first.text)")
            let reply = try await Self.whileHeadIsHeld(api, community: community) {
                try await pay("desk-2")
            } check: {
                let counter = try await Self.lockedElsewhere(api, "receipt_counters", where: "company_id = '\(api.alpha.companyId)'")
                #expect(counter == nil, "the payment took the receipt counter before the chain head: \(counter ?? "")")
                let accounts = try await Self.lockedElsewhere(api, "ledger_accounts", where: "community_id = '\(community)'")
                #expect(accounts == nil, "the payment locked ledger accounts before the chain head: \(accounts ?? "")")
            }
            #expect(reply.status == .created, "\(reply.text)")
            #expect(reply.object["receipt_number"] as? Int == 2, "\(reply.text)")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }
}
