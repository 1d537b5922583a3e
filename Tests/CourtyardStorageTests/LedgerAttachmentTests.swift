import CourtyardDomain
import CourtyardLedger
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

/// Rows attached to a ledger submission (a bill run's bills and lines) commit in the postings' own transaction.
@Suite("Rows attached to postings")
struct LedgerAttachmentTests {
    /// The writers to try on an engine: on SQLite the fast path (pipelined or not) and the SQLKit path; elsewhere SQLKit.
    static func writers(_ ledger: LedgerFixture) -> [LedgerWriter] {
        [ledger.writer]
            + (ledger.database.engine == .sqlite
                ? [LedgerWriter(database: ledger.database, clock: ledger.clock, sqliteFastPath: false)] : [])
    }

    static func bill(_ id: String, house: String, _ ledger: LedgerFixture, company: String? = nil) -> Bill {
        let now = ledger.clock.now()
        return Bill(
            id: id, companyId: company ?? ledger.companyId, communityId: ledger.community, houseId: house, billRunId: "run-" + id,
            period: BillingPeriod("2026-10")!, issueDate: LocalDate("2026-10-31")!, dueDate: LocalDate("2026-11-15")!,
            currency: "CNY", totalAmount: 100, paidAmount: 0, status: .open, postedAt: nil, lateFeeWaivedBy: nil,
            lateFeeWaiverReason: nil, createdAt: now, updatedAt: now)
    }

    static func bills(_ ids: [String], _ ledger: LedgerFixture) async throws -> [String: Bill] {
        try await ledger.database.read { db in
            let found = try await ScopedStore(db, scope: TenantScope(companyId: ledger.companyId)).all(Bill.self, where: "id", in: ids)
            return Dictionary(uniqueKeysWithValues: found.map { ($0.id, $0) })
        }
    }

    @Test(
        "groups that post are marked in the same transaction, refused ones are not, a group with nothing to post is marked",
        arguments: TestEngine.available)
    func postedGroupsAreMarked(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            for (pass, writer) in Self.writers(ledger).enumerated() {
                let ids = ["a", "b", "c"].map { "bill-\(pass)-\($0)" }
                let rows = [
                    Self.bill(ids[0], house: ledger.houses[0], ledger), Self.bill(ids[1], house: ledger.houses[1], ledger),
                    Self.bill(ids[2], house: ledger.houses[2], ledger),
                ]
                let entriesBefore = try await ledger.entryCount()
                let answers = try await writer.submit(
                    companyId: ledger.companyId,
                    linkedGroups: [
                        [ledger.topUp("p\(pass)-1", 100), ledger.deduct("p\(pass)-2", 40)],  // posts
                        [ledger.deduct("p\(pass)-3", 1_000, house: 1)],  // refused: the wallet is empty
                        [],  // nothing to post
                    ], attaching: .init(rows: [.init(rows)], marking: .init(table: Bill.table, column: "posted_at", ids: ids)))
                #expect(answers.map(\.count) == [2, 1, 0])
                #expect(answers[0].allSatisfy { (try? $0.get()) != nil })
                #expect({ if case .failure(.insufficientBalance) = answers[1][0] { true } else { false } }())
                let stored = try await Self.bills(ids, ledger)
                #expect(stored.count == 3)
                #expect(stored[ids[0]]?.postedAt == ledger.clock.now())
                #expect(stored[ids[1]]?.postedAt == nil)
                #expect(stored[ids[2]]?.postedAt == ledger.clock.now())
                #expect(try await ledger.entryCount() == entriesBefore + 2)
            }
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test(
        "a row that cannot be written (a duplicate id, another company's row) fails the whole submission and writes nothing",
        arguments: TestEngine.available)
    func badRowWritesNothing(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            for (pass, writer) in Self.writers(ledger).enumerated() {
                let first = Self.bill("dup-\(pass)", house: ledger.houses[0], ledger)
                _ = try await writer.submit(
                    companyId: ledger.companyId, linkedGroups: [[ledger.topUp("d\(pass)-1", 10)]],
                    attaching: .init(rows: [.init([first])]))
                let entries = try await ledger.entryCount()
                let balance = try await ledger.balance(ledger.wallet())
                // The same bill again, beside a new one: the duplicate fails everything, the new bill included.
                let fresh = Self.bill("fresh-\(pass)", house: ledger.houses[1], ledger)
                await #expect(throws: (any Error).self) {
                    _ = try await writer.submit(
                        companyId: ledger.companyId, linkedGroups: [[ledger.topUp("d\(pass)-2", 10)], []],
                        attaching: .init(
                            rows: [.init([fresh, first])],
                            marking: .init(table: Bill.table, column: "posted_at", ids: [fresh.id, first.id])))
                }
                // Another company's row is refused before anything runs.
                let foreign = Self.bill("foreign-\(pass)", house: ledger.otherHouse, ledger, company: ledger.otherCompanyId)
                await #expect(throws: StorageError.outOfScope) {
                    _ = try await writer.submit(
                        companyId: ledger.companyId, linkedGroups: [[ledger.topUp("d\(pass)-3", 10)]],
                        attaching: .init(rows: [.init([foreign])]))
                }
                #expect(try await ledger.entryCount() == entries)
                #expect(try await ledger.balance(ledger.wallet()) == balance)
                #expect(try await Self.bills([fresh.id], ledger).isEmpty)
                // The refused transfers left no trace: each applies afresh.
                let again = try await writer.submit(companyId: ledger.companyId, ledger.topUp("d\(pass)-2", 10)).get()
                #expect(!again.replayed)
            }
            #expect(try await LedgerAudit.verify(ledger.database).isValid)
        }
    }

    @Test("a posted mark needs one id per linked group", arguments: TestEngine.available)
    func markNeedsOneIdPerGroup(engine: TestEngine) async throws {
        try await LedgerFixture.with(engine) { ledger in
            await #expect(throws: StorageError.self) {
                _ = try await ledger.writer.submit(
                    companyId: ledger.companyId, linkedGroups: [[ledger.topUp("m-1", 10)], []],
                    attaching: .init(rows: [], marking: .init(table: Bill.table, column: "posted_at", ids: ["x"])))
            }
            let entries = try await ledger.entryCount()
            #expect(entries == 0)
        }
    }
}
