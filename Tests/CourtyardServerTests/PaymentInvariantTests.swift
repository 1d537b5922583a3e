import CourtyardDomain
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Invariants over random sequences of desk payments, replays and refunds on one house (seeded, so a failure repeats):
/// the ledger balances after every step, no payment is refunded beyond itself, and each bill's paid amount is exactly
/// what its principal allocations still hold.
@Suite("Payment invariants")
struct PaymentInvariantTests {
    static func check(_ api: APIFixture, step: Int) async throws {
        let (debits, credits) = try await api.database.read { db in
            let row = try await db.raw(
                "SELECT CAST(SUM(debits_posted) AS BIGINT) AS d, CAST(SUM(credits_posted) AS BIGINT) AS c FROM ledger_balances"
            ).first()!
            return (try row.decode(column: "d", as: Int64?.self) ?? 0, try row.decode(column: "c", as: Int64?.self) ?? 0)
        }
        #expect(debits == credits, "step \(step): the ledger does not balance")
        #expect(
            try await Prepaid.scalar(api, "SELECT COUNT(*) AS v FROM payments WHERE refunded_amount > amount OR refunded_amount < 0") == 0,
            "step \(step)")
        let mismatched = try await Prepaid.scalar(
            api,
            """
            SELECT COUNT(*) AS v FROM bills b WHERE b.paid_amount <> COALESCE((SELECT SUM(a.amount - a.refunded_amount) FROM payment_allocations a
              JOIN payments p ON p.id = a.payment_id WHERE a.target_id = b.id AND a.target_kind = 'bill_principal' AND p.status = 'settled'), 0)
            """)
        #expect(mismatched == 0, "step \(step): a bill's paid amount differs from its allocations")
    }

    @Test(
        "random desk payments, replays and refunds keep the ledger balanced and every refund within what was paid",
        arguments: TestEngine.available, TestSeeds.first(3))
    func randomSequences(engine: TestEngine, seed: UInt64) async throws {
        try await PaymentAPITests.with(engine) { api in
            let s = try await PaymentAPITests.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let shift = try #require(
                try await api.call(
                    .post, "/api/v1/cashier-shifts", token: desk,
                    json: ["community_id": s.community, "opening_float": Prepaid.money("0.00")]
                ).object["id"] as? String)
            var random = SeededGenerator(seed: 20_261_202 &+ seed)
            var taken: [(body: [String: Any], payment: String)] = []
            for step in 0..<30 {
                switch Int.random(in: 0..<10, using: &random) {
                case 0..<5:
                    let body: [String: Any] = [
                        "id": "inv-\(step)", "house_id": s.house, "purpose": Bool.random(using: &random) ? "bills" : "top_up",
                        "wallet_purpose": "general", "channel": "cash",
                        "amount": Prepaid.money(Money(minorUnits: Int64.random(in: 1...8_000, using: &random)).decimalText),
                    ]
                    let reply = try await api.call(.post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk, json: body)
                    if reply.status == .created, let id = reply.object["payment_id"] as? String { taken.append((body, id)) }
                    // Paying bills when nothing is due any more is refused; anything else is a bug.
                    let refusedAsNothingDue = body["purpose"] as? String == "bills" && reply.code == "nothing_due"
                    #expect(reply.status == .created || refusedAsNothingDue, "\(reply.text)")
                case 5..<7 where !taken.isEmpty:
                    let previous = taken[Int.random(in: 0..<taken.count, using: &random)]
                    let reply = try await api.call(.post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk, json: previous.body)
                    #expect(reply.object["status"] as? String == "duplicate", "\(reply.text)")
                case 7..<10 where !taken.isEmpty:
                    let previous = taken[Int.random(in: 0..<taken.count, using: &random)]
                    let amount = Money(minorUnits: Int64.random(in: 1...6_000, using: &random))
                    let reply = try await api.call(
                        .post, "/api/v1/refunds", token: desk,
                        json: [
                            "id": "rf-\(step)", "source": "payment", "payment_id": previous.payment, "amount": Prepaid.money(amount.decimalText),
                            "reason_code": "overpayment", "reason": "step \(step)", "destination": "cash",
                        ])
                    if reply.status == .created, let id = reply.object["id"] as? String, reply.object["state"] as? String == "pending_approval" {
                        let decided = try await api.call(
                            .post, "/api/v1/refunds/\(id)/\(Bool.random(using: &random) ? "approve" : "reject")",
                            token: s.finance, json: ["reason": "step \(step)"])
                        // A refund larger than the unspent wallet money it must come from is refused whole (nothing moves).
                        #expect(decided.status == .ok || decided.code == "refund_not_covered", "\(decided.text)")
                    } else {
                        #expect(
                            reply.status == .created || reply.code == "refund_above_remaining" || reply.code == "refund_not_covered", "\(reply.text)")
                    }
                default:
                    continue
                }
                try await Self.check(api, step: step)
            }
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }
}
