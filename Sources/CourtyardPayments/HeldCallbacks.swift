import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A channel callback held for review: an unknown or closed order, an amount that differs, an order paid twice.
public struct HeldCallback: Codable, Sendable, Hashable {
    public var id: String
    public var channel: String
    public var channelTransactionId: String
    public var outTradeNo: String
    public var amount: Money
    public var outcome: String
    public var detail: String
    public var timesReceived: Int
    public var receivedAt: Date
    public var resolution: String?
}

/// Finance's review of held callbacks: the list, and resolving one by applying its money anyway or dismissing it.
/// The payments module owns `payment_callbacks`; the routes call these.
public struct HeldCallbacks: Sendable {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// Held callbacks, unresolved first, at most `limit`.
    public func list(limit: Int = 500) async throws -> [HeldCallback] {
        try await tenant.select(
            """
            id, channel, channel_transaction_id, out_trade_no, amount, outcome, detail, times_received, received_at, resolution
            """, from: "payment_callbacks", where: "outcome <> 'applied'", then: "ORDER BY resolved_at IS NOT NULL, id LIMIT \(literal: limit)"
        )
        .all().map { row in
            let r = RowReader(row, table: "payment_callbacks")
            return HeldCallback(
                id: try r.string("id"), channel: try r.string("channel"), channelTransactionId: try r.string("channel_transaction_id"),
                outTradeNo: try r.string("out_trade_no"), amount: Money(minorUnits: try r.int64("amount")),
                outcome: try r.string("outcome"), detail: try r.string("detail"),
                timesReceived: try r.optionalInt("times_received") ?? 1, receivedAt: try r.instant("received_at"),
                resolution: try r.optionalString("resolution"))
        }
    }

    /// What finance does with a held callback.
    public enum Resolution: String, Sendable {
        /// Apply its money to its order anyway.
        case apply
        /// Leave it unapplied (the money is returned outside Courtyard).
        case dismiss
    }

    /// Resolves held callback `id` in the caller's transaction: `apply` puts its money on its order (the applier's
    /// outcome is returned); either way the callback is marked resolved with who and why.
    public func resolve(
        _ id: String, _ resolution: Resolution, reason: String, actor: String, order: Settlement.Order, ports: PaymentPorts, now: Date
    )
        async throws -> PaymentOutcome?
    {
        guard
            let row = try await tenant.select(
                """
                channel, channel_transaction_id, out_trade_no, amount, outcome, payload, resolved_at, received_at
                """, from: "payment_callbacks", where: "id = \(bind: id)", lock: .forUpdate
            ).first()
        else {
            throw PaymentError(.notFound, code: "not_found", field: "id", "no held callback \(id)")
        }
        let r = RowReader(row, table: "payment_callbacks")
        guard try r.string("outcome") != "applied", try r.optionalInt64("resolved_at") == nil else {
            throw PaymentError(.conflict, code: "already_resolved", field: "id", "the callback is applied or resolved")
        }
        var outcome: PaymentOutcome?
        if resolution == .apply {
            let transaction = ChannelTransaction(
                channel: try r.string("channel"), transactionId: try r.string("channel_transaction_id"),
                outTradeNo: try r.string("out_trade_no"), amount: try r.int64("amount"),
                paidAt: try r.instant("received_at"), recordedBy: actor)
            outcome = try await PaymentApplier(tenant, ports: ports, order: order).applyHeld(transaction, payload: try r.string("payload"), now: now)
        }
        try await tenant.update(
            "payment_callbacks",
            set: """
                resolved_by = \(bind: actor), resolution = \(bind: resolution.rawValue + ": " + reason), resolved_at = \(bind: now.epochMilliseconds)
                """, where: "id = \(bind: id)"
        ).run()
        return outcome
    }
}

extension PaymentStore {
    /// Links `personId` to pay for `houseId` (a child paying for a parent's home); linking again changes the relation.
    public func linkProxyPayer(
        houseId: String, communityId: String, personId: String, relation: String, grantedBy: String, now: Date
    )
        async throws
    {
        try await tenant.insert(
            into: "proxy_payers", columns: ["community_id", "house_id", "person_id", "relation", "granted_by", "created_at"],
            values: [communityId, houseId, personId, relation, grantedBy, now.epochMilliseconds],
            onConflict: .onKey(["house_id", "person_id"], doUpdate: "relation = excluded.relation")
        ).run()
    }
}
