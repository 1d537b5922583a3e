import CourtyardLedger
import CourtyardSQLite
import Foundation

/// What the ledger's SQLite fast path keeps about one connection between its batches: each company's ledger state, the
/// rowids of stored balances, the data version it last saw, and the pipeline's second (reading) connection.
///
/// It lives beside the connection (``RawSQLite/companion``) and follows the connection's owner. The pipeline's prepare
/// stage touches only `ledgers` and `reader`; its persist stage only `rowids` and `dataVersion`; `LedgerWriter` never
/// runs two prepares, or a prepare next to a sequential batch (which uses everything), so no property is used by two
/// threads at once (see ``SQLiteLedgerPipeline``).
// @unchecked Sendable: see above; `maxCachedAccounts` is set once by the writer that opens the connection, before any job.
final class SQLiteLedgerMemory: @unchecked Sendable {
    /// What the ledger's fast path keeps of one company between batches: its ledger state (accounts, heads, policies)
    /// as of this connection's last commit, or, while a pipelined batch is in flight, as of that batch.
    struct CompanyLedger {
        var state: LedgerState
        init(companyId: String) { state = LedgerState(companyId: companyId) }
    }

    /// Per-company kept ledger state; dropped whenever another connection commits. Used by the prepare stage and the
    /// sequential path only (see ``SQLiteLedgerPipeline``).
    var ledgers: [String: CompanyLedger] = [:]
    /// Rowids of stored ledger balances, by account id, so updates skip the text-id index. Used by the write stage and
    /// the sequential path only.
    var rowids: [String: Int64] = [:]
    private var dataVersion: Int64 = -1
    /// Beyond this many accounts a company's kept state is cut back (the sequential path drops it; the pipeline keeps
    /// only what its batch in flight changed), and the rowids are forgotten: a bill run touches each house's receivable
    /// once, and keeping a million of them held 700 MiB for nothing. About 400 bytes an account.
    var maxCachedAccounts = 200_000
    /// A second, read-only connection to the same file, for the pipeline's prepare stage (which must not use the
    /// writing one while the write stage does). Opened on first use; touched by the prepare stage only.
    private var reader: RawSQLite?

    /// Whether another connection (or process) committed since `connection` last looked; if so, forgets the rowids
    /// (a VACUUM may have renumbered them).
    func othersWrote(_ connection: RawSQLite) throws -> Bool {
        let query = try connection.statement("PRAGMA data_version")
        guard try query.step() else { return false }
        let version = query.int64(0)
        query.reset()
        guard version != dataVersion else { return false }
        let first = dataVersion == -1
        dataVersion = version
        rowids.removeAll()
        return !first
    }

    /// Drops the kept ledger states if another connection committed since this one last looked (sequential path).
    func invalidateCacheIfOthersWrote(_ connection: RawSQLite) throws {
        if try othersWrote(connection) { ledgers.removeAll() }
    }

    func pipelineReader(for connection: RawSQLite) throws -> RawSQLite {
        if let reader { return reader }
        let opened = try RawSQLite(path: connection.path, cacheKiB: 65_536)
        reader = opened
        return opened
    }
}

extension RawSQLite {
    /// The ledger fast path's memory of this connection, made on first use.
    var ledgerMemory: SQLiteLedgerMemory {
        // Only this extension sets the companion, so the cast cannot fail.
        if let companion { return unsafeDowncast(companion, to: SQLiteLedgerMemory.self) }
        let memory = SQLiteLedgerMemory()
        companion = memory
        return memory
    }
}
