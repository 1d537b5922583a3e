import CourtyardLedger
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("Ledger API")
struct LedgerAPITests {
    static func key(_ community: String, _ kind: String, _ owner: String, _ purpose: String) -> [String: Any] {
        ["community_id": community, "kind": kind, "owner": owner, "purpose": purpose]
    }

    @Test(
        "transfers apply once, replay with the original result, and refuse conflicts and bad input item by item",
        arguments: TestEngine.available)
    func transfers(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("finance@alpha")
            let house = try await api.first("houses", token: token)
            let community = house["community_id"] as! String
            let houseId = house["id"] as! String
            let cash = Self.key(community, "clearing", "community", "cash")
            let wallet = Self.key(community, "wallet", houseId, "electricity")
            let revenue = Self.key(community, "revenue", "community", "electricity")
            let bravoCommunity = try await api.first("communities", token: try await api.login("admin@bravo"))["id"] as! String
            let money = { (text: String) in ["amount": text, "currency": "CNY"] }
            let batch: [[String: Any]] = [
                ["id": "top-1", "debit": cash, "credit": wallet, "amount": money("100.00"), "code": "top_up"],
                ["id": "ded-1", "debit": wallet, "credit": revenue, "amount": money("30.50"), "code": "deduction", "reference": "reading r1"],
                ["id": "zero", "debit": cash, "credit": wallet, "amount": money("0.00"), "code": "top_up"],
                ["id": "same", "debit": cash, "credit": cash, "amount": money("1.00"), "code": "top_up"],
                [
                    "id": "cross", "debit": cash, "credit": Self.key(bravoCommunity, "wallet", houseId, "water"), "amount": money("1.00"),
                    "code": "top_up",
                ],
                [
                    "id": "other-company", "debit": Self.key(bravoCommunity, "clearing", "community", "cash"),
                    "credit": Self.key(bravoCommunity, "revenue", "community", "water"), "amount": money("1.00"), "code": "payment",
                ],
                ["id": "usd", "debit": cash, "credit": wallet, "amount": ["amount": "1.00", "currency": "USD"], "code": "top_up"],
                ["id": "too-much", "debit": wallet, "credit": revenue, "amount": money("500.00"), "code": "deduction"],
                ["id": "huge", "debit": cash, "credit": wallet, "amount": money("92233720368547758.07"), "code": "top_up"],
            ]
            let reply = try await api.call(.post, "/api/v1/ledger/transfers", token: token, json: ["transfers": batch])
            #expect(reply.status == .ok, "\(reply.text)")
            let statuses = reply.items.map { "\($0["id"]!):\($0["status"]!):\($0["code"] ?? "-")" }
            #expect(
                statuses == [
                    "top-1:applied:-", "ded-1:applied:-", "zero:rejected:invalid_amount", "same:rejected:same_account",
                    "cross:rejected:cross_community", "other-company:rejected:unknown_account",
                    "usd:rejected:currency_mismatch", "too-much:rejected:insufficient_balance",
                    "huge:rejected:amount_overflow",
                ])

            let replay = try await api.call(.post, "/api/v1/ledger/transfers", token: token, json: ["transfers": [batch[0]]])
            #expect(replay.items.first?["status"] as? String == "replayed")
            var changed = batch[0]
            changed["amount"] = money("100.01")
            let conflict = try await api.call(.post, "/api/v1/ledger/transfers", token: token, json: ["transfers": [changed]])
            #expect(conflict.items.first?["code"] as? String == "idempotency_conflict")

            let walletId = AccountKey.wallet(community, house: houseId, purpose: "electricity").id
            let account = try await api.call(.get, "/api/v1/ledger/accounts/\(walletId)", token: token)
            #expect((account.object["balance"] as? [String: Any])?["amount"] as? String == "69.50")
            let statement = try await api.call(.get, "/api/v1/ledger/accounts/\(walletId)/statement?limit=1", token: token)
            #expect(statement.items.count == 1)
            // Newest first.
            #expect((statement.items[0]["balance_after"] as? [String: Any])?["amount"] as? String == "69.50")
            let next = try #require(statement.object["next_cursor"] as? String)
            let page2 = try await api.call(.get, "/api/v1/ledger/accounts/\(walletId)/statement?cursor=\(next)", token: token)
            #expect((page2.items.first?["balance_after"] as? [String: Any])?["amount"] as? String == "100.00")
            #expect(page2.object["next_cursor"] == nil || page2.object["next_cursor"] is NSNull)

            let trial = try await api.call(.get, "/api/v1/communities/\(community)/ledger/trial-balance", token: token)
            #expect(trial.object["balanced"] as? Bool == true)
            let head = try await api.call(.get, "/api/v1/communities/\(community)/ledger/head", token: token)
            #expect(head.object["sequence"] as? Int == 2)
            #expect((head.object["hash"] as? String)?.count == 64)

            // Company B cannot see A's accounts; front desk cannot move money.
            let bravo = try await api.login("finance@bravo")
            #expect(try await api.call(.get, "/api/v1/ledger/accounts/\(walletId)", token: bravo).status == .notFound)
            #expect(try await api.call(.get, "/api/v1/communities/\(community)/ledger/head", token: bravo).status == .notFound)
            let desk = try await api.login("frontdesk@alpha")
            #expect(try await api.call(.post, "/api/v1/ledger/transfers", token: desk, json: ["transfers": [batch[0]]]).status == .forbidden)
            let malformed = try await api.call(.post, "/api/v1/ledger/transfers", token: token, json: ["transfers": [["id": "x"]]])
            #expect(malformed.status == .unprocessableContent)
            #expect(malformed.fields == ["transfers.0.debit"])
        }
    }

    @Test("holds are placed, posted in part and voided over HTTP; linked batches are all or nothing", arguments: TestEngine.available)
    func holdsAndLinked(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let house = try await api.first("houses", token: token)
            let community = house["community_id"] as! String
            let wallet = Self.key(community, "wallet", house["id"] as! String, "parking")
            let cash = Self.key(community, "clearing", "community", "cash")
            let revenue = Self.key(community, "revenue", "community", "parking")
            let money = { (text: String) in ["amount": text, "currency": "CNY"] }
            _ = try await api.call(
                .post, "/api/v1/ledger/transfers", token: token,
                json: [
                    "transfers": [
                        ["id": "p-top", "debit": cash, "credit": wallet, "amount": money("50.00"), "code": "top_up"]
                    ]
                ])
            let expires = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
            let hold = try await api.call(
                .post, "/api/v1/ledger/holds", token: token,
                json: [
                    "id": "park-9", "debit": wallet, "credit": revenue, "amount": money("40.00"), "code": "deduction", "expires_at": expires,
                ])
            #expect(hold.status == .created, "\(hold.text)")
            let second = try await api.call(
                .post, "/api/v1/ledger/holds", token: token,
                json: [
                    "id": "park-10", "debit": wallet, "credit": revenue, "amount": money("20.00"), "code": "deduction", "expires_at": expires,
                ])
            #expect(second.status == .conflict)
            #expect(second.code == "insufficient_balance")
            let posted = try await api.call(
                .post, "/api/v1/ledger/holds/park-9/post", token: token, json: ["id": "park-9-post", "amount": money("12.00")])
            #expect(posted.status == .ok, "\(posted.text)")
            let again = try await api.call(.post, "/api/v1/ledger/holds/park-9/void", token: token, json: ["id": "park-9-void"])
            #expect(again.code == "hold_not_pending")
            let unknown = try await api.call(.post, "/api/v1/ledger/holds/nope/void", token: token, json: ["id": "nope-void"])
            #expect(unknown.status == .notFound)
            // A pending hold voided gives its reservation back: 50.00 − 12.00 posted = 38.00, a hold of 30.00 voided.
            let third = try await api.call(
                .post, "/api/v1/ledger/holds", token: token,
                json: ["id": "park-11", "debit": wallet, "credit": revenue, "amount": money("30.00"), "code": "deduction", "expires_at": expires])
            #expect(third.status == .created, "\(third.text)")
            let voided = try await api.call(.post, "/api/v1/ledger/holds/park-11/void", token: token, json: ["id": "park-11-void"])
            #expect(voided.status == .ok, "\(voided.text)")
            let afterVoid = try await api.call(
                .post, "/api/v1/ledger/holds", token: token,
                json: ["id": "park-12", "debit": wallet, "credit": revenue, "amount": money("38.00"), "code": "deduction", "expires_at": expires])
            #expect(afterVoid.status == .created, "the voided hold's 30.00 is free again: \(afterVoid.text)")
            #expect(try await api.call(.post, "/api/v1/ledger/holds/park-12/void", token: token, json: ["id": "park-12-void"]).status == .ok)
            let linked = try await api.call(
                .post, "/api/v1/ledger/transfers", token: token,
                json: [
                    "linked": true,
                    "transfers": [
                        ["id": "l-1", "debit": cash, "credit": wallet, "amount": money("1.00"), "code": "top_up"],
                        ["id": "l-2", "debit": wallet, "credit": revenue, "amount": money("1000.00"), "code": "deduction"],
                    ],
                ])
            #expect(linked.items.map { $0["status"] as? String } == ["rejected", "rejected"], "\(linked.text)")
            let walletId = AccountKey.wallet(community, house: house["id"] as! String, purpose: "parking").id
            let account = try await api.call(.get, "/api/v1/ledger/accounts/\(walletId)", token: token)
            #expect((account.object["balance"] as? [String: Any])?["amount"] as? String == "38.00")
            let policy = try await api.call(
                .put, "/api/v1/communities/\(community)/ledger/policies/parking", token: token,
                json: ["emergency_credit": money("5.00")])
            #expect(policy.status == .ok)
            let dip = try await api.call(
                .post, "/api/v1/ledger/transfers", token: token,
                json: [
                    "transfers": [
                        ["id": "dip", "debit": wallet, "credit": revenue, "amount": money("42.00"), "code": "deduction"]
                    ]
                ])
            #expect(dip.items.first?["status"] as? String == "applied")
        }
    }
}
