import CourtyardLedger
import SQLKit

extension Database {
    /// Registers the communities whose ledgers keep hash-only account ids (`ledger_account_schemes`, migration 11) with
    /// ``AccountIdScheme/hashOnlyCommunities``, so that every ``AccountKey`` made for them derives the ids their journal
    /// was written with. Called when a database is opened and after it is migrated; before migration 11 there is no
    /// table and nothing to register.
    ///
    /// Should a community be missed, nothing is merged or lost: its next new account would get an owner-ordered id, and
    /// the account table's unique natural key (community, kind, owner, purpose) refuses that second row.
    public func registerAccountIdSchemes() async throws {
        let communities = try await read { db -> [String] in
            let exists: Bool
            switch engine {
            case .sqlite:
                exists =
                    try await db.raw(
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ledger_account_schemes'"
                    ).first() != nil
            case .postgres:
                exists =
                    try await db.raw(
                        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'ledger_account_schemes'"
                    ).first() != nil
            }
            guard exists else { return [] }
            // System-wide by nature (the registry is keyed by community ids, unique across companies), like migrations.
            return try await db.raw(
                "SELECT community_id FROM ledger_account_schemes WHERE scheme = \(bind: AccountIdScheme.hashOnly.rawValue)"
            ).all().map { try $0.decode(column: "community_id", as: String.self) }
        }
        AccountIdScheme.hashOnlyCommunities.register(communities)
    }
}
