import CourtyardLedger
import CourtyardStorage
import Foundation
import SQLKit

/// The payments module's one way to move money and read a house's place: its transfers are loaded, applied with the
/// ledger's rules and written in the caller's transaction, all or none.
struct PaymentLedger: Sendable {
    let tenant: TenantSQL
    var db: any SQLDatabase { tenant.db }
    var companyId: String { tenant.companyId }
    var engine: Database.Engine { tenant.engine }

    /// Posts `operations` in order; the first the ledger refuses throws a conflict naming the ledger's code (after
    /// `rename`, for codes a caller words for its own situation) and nothing is written.
    func post(
        _ operations: [LedgerOperation], now: Date, field: String = "amount", what: String = "the ledger refused",
        rename: [String: String] = [:]
    ) async throws {
        guard !operations.isEmpty else { return }
        let ledger = LedgerStore(db, companyId: companyId, engine: engine)
        var state = LedgerState(companyId: companyId)
        try await ledger.load(operations, into: &state, now: now)
        for operation in operations {
            if case .failure(let error) = state.apply(operation, at: now.epochMilliseconds) {
                throw PaymentError(.conflict, code: rename[error.code] ?? error.code, field: field, "\(what): \(error)")
            }
        }
        try await ledger.write(state, now: now)
    }

    /// The community of a house of this company, or `nil`.
    func community(ofHouse house: String) async throws -> String? {
        try await tenant.select("community_id", from: "houses", where: "id = \(bind: house)").first().map {
            try RowReader($0, table: "houses").string("community_id")
        }
    }

    /// A community's IANA time zone (local dates of payments, due dates, deposit conditions).
    func timeZone(ofCommunity community: String) async throws -> String {
        try await tenant.select("time_zone", from: "communities", where: "id = \(bind: community)").first().map {
            try RowReader($0, table: "communities").string("time_zone")
        } ?? "Asia/Shanghai"
    }
}
