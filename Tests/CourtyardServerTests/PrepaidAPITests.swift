import CourtyardLedger
import CourtyardPrepaid
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Prepaid metering through the API with a simulated meter fleet: deduction per reading, warnings, cut-off at zero,
/// restore on top-up, friendly windows, overrides, safety, replays and races.
@Suite("Prepaid API")
struct PrepaidAPITests {
    /// 2026-11-01T00:00:00Z, 08:00 in Shanghai.
    static let start = IngestAPITests.start

    struct Setup {
        var finance: String
        var engineer: String
        var device: String
        var key: String
        var house: String
        var plan: String
        var fleet: PrepaidFleet
    }

    /// A prepaid electricity plan on the first meter of alpha, paid from the electricity wallet.
    static func setup(_ api: APIFixture, plan extra: [String: Any] = [:], kind: String = "electricity_meter") async throws -> Setup {
        let finance = try await api.login("finance@alpha")
        let engineer = try await api.login("engineer@alpha")
        let (device, key, house) = try await Prepaid.houseMeter(api, kind: kind)
        var body: [String: Any] = [
            "house_id": house, "device_id": device, "register": "energy_total",
            "wallets": [["purpose": kind == "water_meter" ? "water" : "electricity"]], "tariff": Prepaid.flat,
        ]
        body.merge(extra) { $1 }
        let reply = try await api.call(.post, "/api/v1/prepaid-plans", token: finance, json: body)
        #expect(reply.status == .created, "\(reply.text)")
        let fleet = await PrepaidFleet.inProcess(api)
        return Setup(
            finance: finance, engineer: engineer, device: device, key: key, house: house,
            plan: try #require(reply.object["id"] as? String, "\(reply.text)"), fleet: fleet)
    }

    static func reading(_ key: String, _ value: String, _ at: Date, register: String = "energy_total") -> [String: Any] {
        ["device_id": key, "register": register, "reading": value, "measured_at": IngestAPITests.iso(at)]
    }

    static func topUp(
        _ api: APIFixture, _ s: Setup, _ amount: String, id: String = UUID().uuidString, purpose: String = "electricity"
    ) async throws -> APIFixture.Reply {
        try await api.call(
            .post, "/api/v1/houses/\(s.house)/top-ups", token: s.finance,
            json: ["id": id, "purpose": purpose, "amount": Prepaid.money(amount), "channel": "cash"])
    }

    static func overview(_ api: APIFixture, _ s: Setup) async throws -> [String: Any] {
        let reply = try await api.call(.get, "/api/v1/houses/\(s.house)/prepaid", token: s.finance)
        #expect(reply.status == .ok, "\(reply.text)")
        return try #require((reply.object["plans"] as? [[String: Any]])?.first, "\(reply.text)")
    }

    static func supply(_ api: APIFixture, _ s: Setup) async throws -> [String: Any] {
        try #require(try await overview(api, s)["supply"] as? [String: Any])
    }

    static func notifications(_ api: APIFixture, _ s: Setup) async throws -> [String] {
        let reply = try await api.call(.get, "/api/v1/notifications?house_id=\(s.house)", token: s.finance)
        return reply.items.compactMap { $0["kind"] as? String }
    }

    @Test("a plan reads back by id; once ended, its meter's readings are no longer deducted", arguments: TestEngine.available)
    func readBackAndEnd(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let s = try await Self.setup(api)
            #expect(try await Self.topUp(api, s, "10.00").status == .created)
            let read = try await api.call(.get, "/api/v1/prepaid-plans/\(s.plan)", token: s.finance)
            let plan = read.object["plan"] as? [String: Any]
            #expect(read.status == .ok && plan?["id"] as? String == s.plan && plan?["status"] as? String == "active", "\(read.text)")
            let h = { (hours: Double) in Self.start.addingTimeInterval(-hours * 3600) }
            _ = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: [Self.reading(s.key, "1000", h(3)), Self.reading(s.key, "1002", h(2))])
            // 2 kWh at the flat 1.00 a kWh: 8.00 left.
            #expect(Prepaid.amount(try await Self.overview(api, s)["available"]) == "8.00")
            let ended = try await api.call(.post, "/api/v1/prepaid-plans/\(s.plan)/end", token: s.finance)
            #expect(ended.status == .noContent, "\(ended.text)")
            let after = try await api.call(.get, "/api/v1/prepaid-plans/\(s.plan)", token: s.finance)
            #expect((after.object["plan"] as? [String: Any])?["status"] as? String == "ended", "\(after.text)")
            #expect(try await api.call(.post, "/api/v1/prepaid-plans/\(s.plan)/end", token: s.finance).status == .notFound)
            // 10 kWh more after the end: nothing is deducted, the wallet keeps its 8.00.
            _ = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: [Self.reading(s.key, "1012", h(1))])
            let wallet = AccountKey.wallet(try #require(plan?["community_id"] as? String), house: s.house, purpose: "electricity")
            let account = try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: s.finance)
            #expect(Prepaid.amount(account.object["balance"]) == "8.00", "\(account.text)")
        }
    }

    @Test(
        "readings deduct as they arrive, a warning comes before zero, supply is cut at zero and restored by a top-up",
        arguments: TestEngine.available)
    func runToZeroAndRestore(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let s = try await Self.setup(api, plan: ["warn_below": Prepaid.money("3.00")])
            let topUp = try await Self.topUp(api, s, "10.00")
            #expect(topUp.status == .created, "\(topUp.text)")
            #expect(Prepaid.amount(topUp.object["wallet_balance"]) == "10.00")
            let h = { (hours: Double) in Self.start.addingTimeInterval(-hours * 3600) }
            let batch = [Self.reading(s.key, "1000", h(4)), Self.reading(s.key, "1004", h(3)), Self.reading(s.key, "1008", h(2))]
            let first = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: batch)
            #expect(first.items.map { $0["status"] as? String } == ["accepted", "accepted", "accepted"], "\(first.text)")
            var view = try await Self.overview(api, s)
            #expect(Prepaid.amount(view["available"]) == "2.00", "\(view)")
            #expect(try await Self.notifications(api, s) == ["low_balance"])
            #expect((try await Self.supply(api, s))["desired"] as? String == "open")

            // 4.5 kWh more: 2.00 from the wallet, 2.50 owed; nothing left, so the supply is cut.
            let second = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: [Self.reading(s.key, "1012.5", h(1))])
            #expect(second.items.first?["status"] as? String == "accepted")
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .closed })
            #expect(try await Prepaid.eventually { (try await Self.supply(api, s))["reported"] as? String == "closed" })
            view = try await Self.overview(api, s)
            #expect(Prepaid.amount(view["available"]) == "-2.50")
            #expect(Prepaid.amount(view["owed"]) == "2.50")
            #expect(try await Self.notifications(api, s).contains("cutoff_done"))

            // A replayed batch is a duplicate: nothing is deducted again.
            let replay = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: batch)
            #expect(replay.items.map { $0["status"] as? String } == ["duplicate", "duplicate", "duplicate"])
            #expect(Prepaid.amount((try await Self.overview(api, s))["available"]) == "-2.50")

            // A top-up repays what is owed first, and the restore leaves at once.
            let again = try await Self.topUp(api, s, "5.00")
            #expect(again.status == .created, "\(again.text)")
            #expect(Prepaid.amount((again.object["repaid"] as? [String: Any])?["electricity"]) == "2.50", "\(again.text)")
            #expect((again.object["commands"] as? [String])?.count == 1)
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
            #expect(try await Prepaid.eventually { (try await Self.supply(api, s))["reported"] as? String == "open" })
            view = try await Self.overview(api, s)
            #expect(Prepaid.amount(view["available"]) == "2.50")
            #expect(Prepaid.amount(view["owed"]) == "0.00")
            #expect((view["today"] as? [String: Any])?["usage"] as? String == "12.500")
            #expect(Prepaid.amount((view["today"] as? [String: Any])?["deducted"]) == "12.50")
            #expect((view["commands"] as? [[String: Any]])?.map { $0["state"] as? String } == ["succeeded", "succeeded"])
            #expect(try await Self.notifications(api, s).contains("restored"))
            #expect(try await Prepaid.ledgerBalances(api))
            #expect(try await Prepaid.scalar(api, "SELECT SUM(amount) AS v FROM prepaid_charges") == 1250)
        }
    }
}
