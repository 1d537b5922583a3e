import CourtyardDomain
import CourtyardStorage
import SQLKit

extension PaymentError {
    /// Refuses money from outside that is not in the community's currency (`currency_mismatch`, 422), as the ledger
    /// refuses such a transfer: 50.00 USD must never be booked as 50.00 CNY.
    static func requireCurrency(
        _ amounts: [(Money, String)], community communityId: String, db: any SQLDatabase,
        scope: TenantScope
    ) async throws {
        guard let community = try await ScopedStore(db, scope: scope).find(Community.self, id: communityId) else { return }
        for (amount, field) in amounts where !amount.isIn(community.currency) {
            throw PaymentError(
                .invalid, code: "currency_mismatch", field: field,
                "\(field) is in \(amount.currency.code); this community keeps its books in \(community.currency.code)")
        }
    }
}
