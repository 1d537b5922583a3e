import CourtyardLedger
import SQLKit

/// Runs ``JournalVerifier`` over a whole database: every community's chain and every account's totals.
public enum LedgerAudit {
    /// Verifies all ledgers, reading entries community by community in pages.
    public static func verify(_ database: Database, pageSize: Int = 10_000) async throws -> JournalVerifier.Report {
        try await database.read { db in
            var accounts: [String: Account] = [:]
            for row in try await db.raw("SELECT \(unsafeRaw: LedgerStore.accountSelect)").all() {
                let account = try LedgerStore.account(from: row)
                accounts[account.id] = account
            }
            var heads: [String: ChainHead] = [:]
            for row in try await db.select().columns("community_id", "sequence", "hash").from("ledger_heads").all() {
                let r = RowReader(row, table: "ledger_heads")
                let head = ChainHead(communityId: try r.string("community_id"), sequence: try r.int64("sequence"), hash: try r.string("hash"))
                heads[head.communityId] = head
            }
            var report = JournalVerifier.Report()
            report.accounts = accounts.count
            let verifier = JournalVerifier(storedAccounts: accounts, storedHeads: heads)
            var communities = Set(heads.keys)
            for row in try await db.raw("SELECT DISTINCT community_id FROM ledger_entries").all() {
                communities.insert(try row.decode(column: "community_id", as: String.self))
            }
            var replayed: [String: Account] = [:]
            for community in communities.sorted() {
                report.communities += 1
                // Read and verify the chain page by page, carrying its position, so memory stays bounded.
                var position = JournalVerifier.ChainPosition()
                var after: Int64 = -1
                while true {
                    let rows = try await db.raw(
                        """
                        SELECT \(unsafeRaw: LedgerStore.entryColumns.joined(separator: ", ")) FROM ledger_entries
                        WHERE community_id = \(bind: community) AND sequence > \(bind: after) ORDER BY sequence LIMIT \(bind: pageSize)
                        """
                    ).all()
                    let page = try rows.map(LedgerStore.entry(from:))
                    report.entries += page.count
                    if let divergence = verifier.verify(community: community, page: page, from: &position, into: &replayed) {
                        report.divergence = divergence
                        return report
                    }
                    guard let last = page.last, page.count == pageSize else { break }
                    after = last.sequence
                }
                if let divergence = verifier.verifyHead(community: community, at: position) {
                    report.divergence = divergence
                    return report
                }
            }
            report.divergence = verifier.compareAccounts(replayed)
            return report
        }
    }
}
