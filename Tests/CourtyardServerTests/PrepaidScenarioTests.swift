import CourtyardIngest
import CourtyardPrepaid
import CourtyardServer
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// The prepaid scenarios of the issue, against the simulated fleet: friendly windows, a top-up racing an in-flight
/// cut-off, top-ups racing a deduction, a gas leak with money left, overrides, lost and duplicate acks, a device
/// offline for a day, reconciliation, and late readings rated at their own instant.
@Suite("Prepaid scenarios")
struct PrepaidScenarioTests {
    typealias T = PrepaidAPITests
    static let start = PrepaidAPITests.start
    static func hoursBefore(_ hours: Double) -> Date { start.addingTimeInterval(-hours * 3600) }

    /// Runs the meter of `s` from 1000 to `1000 + used` kWh (two readings an hour apart before `start`).
    static func use(_ api: APIFixture, _ s: T.Setup, _ used: Int, from: Double = 2, base: Int = 1000) async throws {
        let reply = try await api.call(
            .post, "/api/v1/readings", token: s.engineer,
            json: [
                T.reading(s.key, String(base), hoursBefore(from)),
                T.reading(s.key, String(base + used), hoursBefore(from - 1)),
            ])
        #expect(reply.items.count == 2, "\(reply.text)")
        #expect(reply.items.allSatisfy { ["accepted", "duplicate"].contains($0["status"] as? String ?? "") }, "\(reply.text)")
    }

    @Test("running to zero inside friendly windows defers the cut-off to their end (Sunday, then Monday 00:00)", arguments: TestEngine.available)
    func friendlyWindow(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)  // Sunday 2026-11-01, 08:00 in Shanghai
        try await APIFixture.with(engine, clock: clock) { api in
            var s = try await T.setup(
                api,
                plan: [
                    "friendly_windows": [
                        ["kind": "daily", "start": "07:00", "end": "09:00"],
                        ["kind": "weekly", "days": ["sunday"]],
                    ]
                ])
            _ = try await T.topUp(api, s, "1.00")
            try await Self.use(api, s, 3)
            await api.services.dispatcher.settle()
            var supply = try await T.supply(api, s)
            #expect(supply["desired"] as? String == "open")
            #expect(supply["reason"] as? String == "friendly_window")
            // Sunday's window ends at Monday 00:00 local = 16:00Z; the 07:00–09:00 window does not cover midnight.
            #expect(supply["cutoff_due_at"] as? String == "2026-11-01T16:00:00Z", "\(supply)")
            #expect(try await T.notifications(api, s).contains("cutoff_scheduled"))
            #expect(await s.fleet.commands(s.device).isEmpty)
            clock.advance(seconds: 16 * 3600 - 1)
            await api.services.dispatcher.sweep()
            await api.services.dispatcher.settle()
            #expect(await s.fleet.commands(s.device).isEmpty)
            clock.advance(seconds: 1)
            await api.services.dispatcher.sweep()
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .closed })
            s.finance = try await api.login("finance@alpha")  // sixteen hours later, a new session
            supply = try await T.supply(api, s)
            #expect(supply["reason"] as? String == "balance_exhausted")
        }
    }

    @Test("a top-up while the cut-off is in flight waits for it, then restores", arguments: TestEngine.available)
    func topUpDuringCutoff(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let s = try await T.setup(api)
            await s.fleet.set(s.device) { $0.online = false }
            _ = try await T.topUp(api, s, "1.00")
            try await Self.use(api, s, 2)
            #expect(try await Prepaid.eventually { await s.fleet.commands(s.device).count == 1 })
            let restore = try await T.topUp(api, s, "10.00")
            #expect((restore.object["commands"] as? [String])?.count == 1, "\(restore.text)")
            await api.services.dispatcher.settle()
            // One command in flight per device: the restore waits for the unanswered cut-off.
            #expect(await s.fleet.commands(s.device).map(\.action) == [.closed])
            await s.fleet.set(s.device) { $0.online = true }
            await api.services.dispatcher.settle()
            clock.advance(seconds: 11)
            await api.services.dispatcher.sweep()
            #expect(try await Prepaid.eventually { await s.fleet.commands(s.device).map(\.action) == [.closed, .closed, .open] })
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
            #expect(try await Prepaid.eventually { (try await T.supply(api, s))["reported"] as? String == "open" })
            let commands = try await api.call(.get, "/api/v1/devices/\(s.device)/commands", token: s.engineer)
            #expect(commands.items.map { $0["state"] as? String } == ["succeeded", "succeeded"], "\(commands.text)")
            #expect(commands.items.first { $0["action"] as? String == "closed" }?["attempts"] as? Int == 2, "\(commands.text)")
        }
    }

    @Test("two top-ups racing a deduction leave exactly the sum, whatever the order", arguments: TestEngine.available)
    func racingTopUps(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let s = try await T.setup(api)
            _ = try await T.topUp(api, s, "1.00")
            async let a = T.topUp(api, s, "3.00")
            async let b = T.topUp(api, s, "4.00")
            async let c: Void = Self.use(api, s, 5)
            let (first, second, _) = try await (a, b, c)
            #expect(first.status == .created && second.status == .created)
            await api.services.dispatcher.settle()
            let view = try await T.overview(api, s)
            #expect(Prepaid.amount(view["available"]) == "3.00", "\(view)")
            #expect(try await Prepaid.eventually { (try await T.supply(api, s))["desired"] as? String == "open" })
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test("a gas leak closes the valve with money left; top-ups do not reopen it until an engineer clears it", arguments: TestEngine.available)
    func gasLeak(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let admin = try await api.login("admin@alpha")
            let (_, _, house) = try await Prepaid.houseMeter(api, kind: "electricity_meter")
            let community = try await api.database.read { db in
                try await db.raw("SELECT community_id FROM houses WHERE id = \(bind: house)").first()!.decode(column: "community_id", as: String.self)
            }
            let created = try await api.call(
                .post, "/api/v1/devices", token: admin,
                json: [
                    "community_id": community, "device_key": "gas-\(UUID().uuidString.prefix(6))", "kind": "gas_meter", "protocol": "mqtt",
                ])
            let gas = try #require(created.object["id"] as? String, "\(created.text)")
            let finance = try await api.login("finance@alpha")
            let plan = try await api.call(
                .post, "/api/v1/prepaid-plans", token: finance,
                json: [
                    "house_id": house, "device_id": gas, "register": "volume_total", "wallets": [["purpose": "gas"]], "tariff": Prepaid.flat,
                ])
            #expect(plan.status == .created, "\(plan.text)")
            let fleet = await PrepaidFleet.inProcess(api)
            let s = T.Setup(
                finance: finance, engineer: try await api.login("engineer@alpha"), device: gas, key: "", house: house,
                plan: plan.object["id"] as! String, fleet: fleet)
            _ = try await T.topUp(api, s, "50.00", purpose: "gas")
            let alarm = try await api.call(.post, "/api/v1/devices/\(gas)/supply-report", token: s.engineer, json: ["alarm": "gas_leak"])
            #expect(alarm.status == .noContent, "\(alarm.text)")
            #expect(try await Prepaid.eventually { await fleet.position(gas) == .closed })
            #expect((try await T.supply(api, s))["reason"] as? String == "safety:gas_leak")
            #expect(try await T.notifications(api, s).contains("gas_alarm"))
            _ = try await T.topUp(api, s, "20.00", purpose: "gas")
            await api.services.dispatcher.settle()
            #expect(await fleet.position(gas) == .closed)
            let clear = try await api.call(.post, "/api/v1/devices/\(gas)/safety/clear", token: s.engineer, json: ["reason": "pipe repaired, tested"])
            #expect(clear.status == .ok, "\(clear.text)")
            #expect(try await Prepaid.eventually { await fleet.position(gas) == .open })
        }
    }

    @Test("an exemption keeps supply on at zero; an engineer hold closes it with money left; both end", arguments: TestEngine.available)
    func overrides(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let s = try await T.setup(api)
            let until = IngestAPITests.iso(Self.start.addingTimeInterval(86_400))
            let exemption = try await api.call(
                .post, "/api/v1/devices/\(s.device)/supply-overrides", token: s.engineer,
                json: ["kind": "exemption", "reason": "home dialysis", "expires_at": until])
            #expect(exemption.status == .created, "\(exemption.text)")
            try await Self.use(api, s, 2)
            await api.services.dispatcher.settle()
            #expect((try await T.supply(api, s))["reason"] as? String == "exemption")
            #expect(await s.fleet.commands(s.device).isEmpty)
            let end = try await api.call(
                .post, "/api/v1/devices/\(s.device)/supply-overrides/\(exemption.object["id"] as! String)/end",
                token: s.engineer)
            #expect(end.status == .noContent)
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .closed })
            _ = try await T.topUp(api, s, "30.00")
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
            let hold = try await api.call(
                .post, "/api/v1/devices/\(s.device)/supply-overrides", token: s.engineer,
                json: [
                    "kind": "engineer_hold", "hold_state": "closed", "reason": "meter inspection",
                    "expires_at": IngestAPITests.iso(Self.start.addingTimeInterval(3600)),
                ])
            #expect(hold.status == .created, "\(hold.text)")
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .closed })
            clock.advance(seconds: 3601)
            await api.services.dispatcher.sweep()
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
        }
    }

    @Test(
        "lost acks are sent again, duplicate acks change nothing, a day offline expires the command, mismatches reconcile",
        arguments: TestEngine.available)
    func unreliableDevices(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let s = try await T.setup(api, plan: ["command_expiry_seconds": 3600, "max_attempts": 20])
            await s.fleet.set(s.device) {
                $0.acksToLose = 1; $0.duplicateAcks = true
            }
            try await Self.use(api, s, 1)
            #expect(try await Prepaid.eventually { await s.fleet.commands(s.device).count == 1 })
            await api.services.dispatcher.settle()  // SENT is written
            clock.advance(seconds: 11)
            await api.services.dispatcher.sweep()
            #expect(try await Prepaid.eventually { (try await T.supply(api, s))["reported"] as? String == "closed" })
            #expect(await s.fleet.commands(s.device).count == 2)
            let commands = try await api.call(.get, "/api/v1/devices/\(s.device)/commands", token: s.engineer)
            #expect(commands.items.map { $0["state"] as? String } == ["succeeded"])

            // Offline for a day: the restore is sent with backoff, never answered, and expires; staff are told.
            await s.fleet.set(s.device) { $0.online = false }
            _ = try await T.topUp(api, s, "10.00")
            for _ in 0..<8 {
                clock.advance(seconds: 600)
                await api.services.dispatcher.sweep()
                await api.services.dispatcher.settle()
            }
            let after = try await api.call(.get, "/api/v1/devices/\(s.device)/commands", token: s.engineer)
            #expect(after.items.first?["state"] as? String == "expired", "\(after.text)")
            #expect((after.items.first?["attempts"] as? Int ?? 0) > 3, "sent again with backoff: \(after.text)")
            let staff = try await api.call(.get, "/api/v1/notifications", token: s.finance).items.compactMap { $0["kind"] as? String }
            #expect(staff.contains("command_expired"), "\(staff)")
            // An ack for the expired command is refused and changes nothing.
            let expiredId = after.items.first?["id"] as! String
            let late = try await api.call(
                .post, "/api/v1/devices/\(s.device)/commands/ack", token: s.engineer,
                json: ["command_id": expiredId, "status": "succeeded"])
            #expect(late.status == .conflict && late.code == "command_expired", "\(late.text)")
            // Back online, the meter reports it is closed while it should be open: the restore is sent again.
            await s.fleet.set(s.device) { $0.online = true }
            let report = try await api.call(.post, "/api/v1/devices/\(s.device)/supply-report", token: s.engineer, json: ["valve": "closed"])
            #expect(report.status == .noContent, "\(report.text)")
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
            #expect(try await Prepaid.eventually { (try await T.supply(api, s))["reported"] as? String == "open" })
        }
    }

    @Test("a late reading is rated at its own instant and its later neighbour is re-rated for the difference", arguments: TestEngine.available)
    func lateReadingTimeOfUse(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            // Peak 08:00–22:00 at 1.0000, valley 22:00–08:00 at 0.3000 (Shanghai time).
            let tou: [String: Any] = [
                "kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly",
                "tiers": [["price": "1.0000"]],
                "windows": [
                    ["name": "peak", "start": "08:00", "end": "22:00", "prices": ["1.0000"]],
                    ["name": "valley", "start": "22:00", "end": "08:00", "prices": ["0.3000"]],
                ],
            ]
            let s = try await T.setup(api, plan: ["tariff": tou])
            _ = try await T.topUp(api, s, "100.00")
            // 2026-10-31 20:00 (peak) and 2026-11-01 06:00 (valley), local.
            let r1 = try await api.call(
                .post, "/api/v1/readings", token: s.engineer,
                json: [
                    ["device_id": s.key, "register": "energy_total", "reading": "100", "measured_at": "2026-10-31T20:00:00+08:00"],
                    ["device_id": s.key, "register": "energy_total", "reading": "110", "measured_at": "2026-11-01T06:00:00+08:00"],
                ])
            #expect(r1.items.map { $0["status"] as? String } == ["accepted", "accepted"])
            // 10 kWh rated at 06:00 (valley): 3.00.
            #expect(Prepaid.amount((try await T.overview(api, s))["available"]) == "97.00")
            // A late reading at 21:00 (peak) says 6 kWh were used by then: 6 × 1.00 + 4 × 0.30 = 7.20 in all.
            let late = try await api.call(
                .post, "/api/v1/readings", token: s.engineer,
                json: [
                    ["device_id": s.key, "register": "energy_total", "reading": "106", "measured_at": "2026-10-31T21:00:00+08:00"]
                ])
            #expect(late.items.first?["status"] as? String == "accepted", "\(late.text)")
            #expect(Prepaid.amount((try await T.overview(api, s))["available"]) == "92.80")
            #expect(try await Prepaid.scalar(api, "SELECT SUM(usage_milli) AS v FROM prepaid_charges") == 10_000)
            #expect(try await Prepaid.scalar(api, "SELECT COUNT(*) AS v FROM prepaid_charges WHERE kind = 'revision'") == 1)
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }
}

/// HTTP devices fetch their commands after they report, with their own token, and ack them the same way.
@Suite("Prepaid HTTP devices")
struct PrepaidHTTPDeviceTests {
    typealias T = PrepaidAPITests

    @Test("an HTTP meter pulls its cut-off with its device token and acks it; other devices' tokens are refused", arguments: TestEngine.available)
    func pull(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let admin = try await api.login("admin@alpha")
            let (_, _, house) = try await Prepaid.houseMeter(api, kind: "electricity_meter")
            let community = try await api.database.read { db in
                try await db.raw("SELECT community_id FROM houses WHERE id = \(bind: house)").first()!.decode(column: "community_id", as: String.self)
            }
            let key = "http-em-\(UUID().uuidString.prefix(6))"
            let created = try await api.call(
                .post, "/api/v1/devices", token: admin,
                json: [
                    "community_id": community, "device_key": key, "kind": "electricity_meter", "protocol": "http",
                ])
            let device = try #require(created.object["id"] as? String, "\(created.text)")
            let token = try #require(try await api.call(.post, "/api/v1/devices/\(device)/credentials", token: admin).object["token"] as? String)
            let finance = try await api.login("finance@alpha")
            let plan = try await api.call(
                .post, "/api/v1/prepaid-plans", token: finance,
                json: [
                    "house_id": house, "device_id": device, "wallets": [["purpose": "electricity"]], "tariff": Prepaid.flat,
                ])
            #expect(plan.status == .created, "\(plan.text)")
            let fleet = await PrepaidFleet.inProcess(api)
            let readings = try await api.call(
                .post, "/api/v1/readings", token: token,
                json: [
                    T.reading(key, "1", T.start.addingTimeInterval(-7200)), T.reading(key, "3", T.start.addingTimeInterval(-3600)),
                ])
            #expect(readings.items.map { $0["status"] as? String } == ["accepted", "accepted"], "\(readings.text)")
            await api.services.dispatcher.settle()
            #expect(await fleet.received.isEmpty, "HTTP devices are not pushed to")
            let next = try await api.call(.get, "/api/v1/devices/\(device)/commands/next", token: token)
            #expect(next.status == .ok && next.object["action"] as? String == "closed" && next.object["state"] as? String == "sent", "\(next.text)")
            let commandId = try #require(next.object["id"] as? String)
            let (otherDevice, _, _) = try await Prepaid.houseMeter(api, kind: "water_meter")
            let foreign = try await api.call(.get, "/api/v1/devices/\(otherDevice)/commands/next", token: token)
            #expect(foreign.status == .forbidden && foreign.code == "device_mismatch", "\(foreign.text)")
            let ack = try await api.call(
                .post, "/api/v1/devices/\(device)/commands/ack", token: token,
                json: ["command_id": commandId, "status": "succeeded"])
            #expect(ack.status == .ok && ack.object["state"] as? String == "succeeded", "\(ack.text)")
            let again = try await api.call(
                .post, "/api/v1/devices/\(device)/commands/ack", token: token,
                json: ["command_id": commandId, "status": "succeeded"])
            #expect(again.status == .ok, "a duplicate ack is harmless: \(again.text)")
            let none = try await api.call(.get, "/api/v1/devices/\(device)/commands/next", token: token)
            #expect(none.status == .noContent)
            let s = T.Setup(
                finance: finance, engineer: admin, device: device, key: key, house: house, plan: plan.object["id"] as! String, fleet: fleet)
            #expect((try await T.supply(api, s))["reported"] as? String == "closed")
        }
    }
}

/// The SQLite raw path deducts exactly like the SQLKit path: the same charges, the same ledger, in the readings' transaction.
@Suite("Prepaid raw path")
struct PrepaidRawPathTests {
    typealias T = PrepaidAPITests

    @Test("steady readings of a prepaid meter are deducted on the raw path, to the fen, and the journal verifies", arguments: TestEngine.available)
    func steady(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start), fastPaths: .all) { api in
            let s = try await T.setup(
                api,
                plan: [
                    "tariff": [
                        "kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly",
                        "tiers": [["up_to": "5", "price": "0.5380"], ["price": "0.5880"]],
                    ]
                ])
            _ = try await T.topUp(api, s, "100.00")
            // Twelve readings, 0.777 kWh apart, in four requests.
            for part in 0..<4 {
                let batch = (0..<3).map { step -> [String: Any] in
                    let index = part * 3 + step
                    return T.reading(s.key, Self.decimal(index * 777), T.start.addingTimeInterval(Double(index - 20) * 600))
                }
                let reply = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: batch)
                #expect(reply.items.map { $0["status"] as? String } == ["accepted", "accepted", "accepted"], "\(reply.text)")
            }
            let view = try await T.overview(api, s)
            // The first reading has no usage: 11 intervals of 0.777 = 8.547 kWh = 5 × 0.538 + 3.547 × 0.588 = 4.775636 yuan, deducted
            // per reading with the remainder carried: 4.78 in all.
            #expect(Prepaid.amount(view["available"]) == "95.22", "\(view)")
            #expect(try await Prepaid.scalar(api, "SELECT SUM(usage_milli) AS v FROM prepaid_charges") == 8_547)
            #expect(try await Prepaid.scalar(api, "SELECT SUM(amount) AS v FROM prepaid_charges") == 478)
            #expect(try await Prepaid.ledgerBalances(api))
            if engine == .sqlite {
                #expect(await api.services.ingestor.writer.rawBatches > 0, "the raw path took some of the batches")
            }
        }
    }

    static func decimal(_ milli: Int) -> String { String(format: "%d.%03d", milli / 1000, milli % 1000) }
}

/// The slow watches the server runs every ten minutes: days left at the last week's pace, and water that never stops at night.
@Suite("Prepaid watches")
struct PrepaidWatchTests {
    typealias T = PrepaidAPITests

    @Test("a balance that lasts fewer days than the plan's threshold warns the owner once", arguments: TestEngine.available)
    func daysLeft(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let s = try await T.setup(api, plan: ["warn_days_left": 3])
            _ = try await T.topUp(api, s, "9.00")
            // One kWh (1.00) a day over the last week: 2.00 left lasts 2 days.
            let readings = (0...7).map { day in T.reading(s.key, String(100 + day), T.start.addingTimeInterval(Double(day - 8) * 86_400)) }
            let reply = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: readings)
            #expect(reply.items.map { $0["status"] as? String } == Array(repeating: "accepted", count: readings.count), "\(reply.text)")
            #expect(Prepaid.amount((try await T.overview(api, s))["available"]) == "2.00")
            #expect((try await T.overview(api, s))["estimated_days_left"] as? Int == 2)
            for _ in 0..<2 {
                _ = try await api.database.transaction { db in try await PrepaidWatch.daysLeft(db, engine: api.database.engine, now: T.start) }
            }
            let notes = try await api.call(.get, "/api/v1/notifications?house_id=\(s.house)", token: s.finance).items
            let warnings = notes.filter { ($0["payload"] as? [String: String])?["estimated_days_left"] == "2" }
            #expect(warnings.count == 1, "\(notes)")
        }
    }

    @Test("water flowing every night hour for N nights alerts owner and engineers, and never cuts supply", arguments: TestEngine.available)
    func nightLeak(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let s = try await T.setup(
                api,
                plan: [
                    "leak_detection": ["minimum_night_flow": "0.005", "nights": 2],
                    "register": "volume_total",
                ], kind: "water_meter")
            _ = try await T.topUp(api, s, "100.00", purpose: "water")
            // Nights of Oct 31 and Nov 1 (Shanghai): a reading every 30 minutes from 00:30 to 05:00, 0.010 m³ apart.
            var readings: [[String: Any]] = []
            var value = 10.0
            for night in ["2026-10-31", "2026-11-01"] {
                for half in 1...10 {
                    value += 0.01
                    let minutes = half * 30
                    let time = String(format: "%@T%02d:%02d:00+08:00", night, minutes / 60, minutes % 60)
                    readings.append(["device_id": s.key, "register": "volume_total", "reading": String(format: "%.3f", value), "measured_at": time])
                }
            }
            let reply = try await api.call(.post, "/api/v1/readings", token: s.engineer, json: readings)
            #expect(reply.items.map { $0["status"] as? String } == Array(repeating: "accepted", count: readings.count), "\(reply.text)")
            let alerts = try await api.database.transaction { db in try await PrepaidWatch.leaks(db, engine: api.database.engine, now: T.start) }
            #expect(alerts == 1)
            let notes = try await api.call(.get, "/api/v1/notifications?house_id=\(s.house)", token: s.finance).items
            #expect(notes.contains { $0["kind"] as? String == "water_leak" && $0["audience"] as? String == "owner,staff" }, "\(notes)")
            #expect((try await T.supply(api, s))["desired"] as? String == "open")
        }
    }

    @Test("an ack for a device of another tenant is unknown", arguments: TestEngine.available)
    func foreignDeviceAck(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let engineer = try await api.login("engineer@alpha")
            let bravoDevice = try await api.database.read { db in
                try await db.raw("SELECT id FROM devices WHERE company_id = \(bind: api.bravo.companyId) LIMIT 1").first()!.decode(
                    column: "id", as: String.self)
            }
            let before = try await api.tableCounts()
            let reply = try await api.call(
                .post, "/api/v1/devices/\(bravoDevice)/commands/ack", token: engineer,
                json: ["command_id": "x", "status": "succeeded"])
            #expect(reply.status == .notFound, "\(reply.text)")
            #expect(try await api.tableCounts() == before)
        }
    }
}
