import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import PropertyBased
import SQLKit
import Testing

@testable import CourtyardIngest

/// The SQLite writer's fast path must decide exactly what the careful path decides: same answers, same rows.
@Suite struct FastPathTests {
    static let company = "01a00000-0000-7000-8000-000000000001"
    static let community = "01a00000-0000-7000-8000-000000000002"

    static func seed(_ database: Database, now: Date) async throws -> [KnownDevice] {
        try await database.transaction { db in
            try await AccountStore(db).insert(Company(id: company, code: "fast", name: "Fast", currency: .cny, createdAt: now, updatedAt: now))
            let store = ScopedStore(db, scope: TenantScope(companyId: company))
            try await store.insert(
                Community(
                    id: community, companyId: company, code: "F", name: "F", timeZone: "Asia/Shanghai", currency: .cny,
                    address: nil, createdAt: now, updatedAt: now))
            var devices: [KnownDevice] = []
            for index in 0..<20 {
                let id = "01a00000-0000-7000-8000-0000000001\(String(format: "%02d", index))"
                try await store.insert(
                    Device(
                        id: id, companyId: company, communityId: community, deviceKey: "m\(index)", kind: .electricityMeter,
                        protocol: .http, model: nil, address: nil, status: .active,
                        registerModulus: index == 2 ? Quantity(milliUnits: 100_000) : nil, createdAt: now, updatedAt: now))
                devices.append(
                    KnownDevice(
                        id: id, companyId: company, communityId: community, deviceKey: "m\(index)", kind: .electricityMeter,
                        status: .active, registerModulus: index == 2 ? 100_000 : nil, timeZone: TimeZone(identifier: "Asia/Shanghai")!))
            }
            return devices
        }
    }

    /// A random stream: rising hourly readings, and on a few devices late ones, duplicates, conflicts, falls, spikes and reused message ids.
    static func stream(seed: UInt64, devices: [KnownDevice], count: Int) -> [[ResolvedReading]] {
        var random = SplitMix64(seed: seed)
        var values = [Int64](repeating: 1_000_000, count: devices.count)
        var hours = [Int64](repeating: 0, count: devices.count)
        var sent: [ResolvedReading] = []
        let base: Int64 = 1_790_000_000_000
        for index in 0..<count {
            let which = Int(random.next() % UInt64(devices.count))
            // Devices 0–4 misbehave (replays, conflicts, falls, spikes, late readings); the others mostly report in order.
            let roll = which < 5 ? random.next() % 100 : 25 + random.next() % 75
            var reading: ResolvedReading
            if roll < 8, let old = sent.randomElement(using: &random) {
                reading = old  // exact replay
            } else if roll < 12, let old = sent.randomElement(using: &random) {
                reading = old
                reading.value = .cumulative(old.value.milliUnits + 7)  // conflict at the same instant
                reading.messageId = nil
            } else {
                hours[which] += Int64(1 + random.next() % 3)
                let late = roll < 20 && hours[which] > 3
                let at = base + (late ? hours[which] - 2 : hours[which]) * 3_600_000 + (late ? 1_800_000 : 0)
                let step: Int64 = roll < 23 ? -5_000 : roll < 25 ? 150_000 : Int64(random.next() % 2_000)
                values[which] += step
                let value = devices[which].registerModulus.map { values[which] % $0 } ?? values[which]
                reading = ResolvedReading(
                    device: devices[which], register: "energy_total", value: .cumulative(max(0, value)), measuredAt: at,
                    receivedAt: at, messageId: roll < 60 ? "msg-\(index % 97 == 0 ? 0 : index)" : nil, source: "test")
            }
            sent.append(reading)
        }
        var batches: [[ResolvedReading]] = []
        var position = 0
        while position < sent.count {
            let size = 1 + Int(random.next() % 40)
            batches.append(Array(sent[position..<min(position + size, sent.count)]))
            position += size
        }
        return batches
    }

    static func state(_ database: Database) async throws -> [String] {
        try await database.read { db in
            let readings = try await db.raw("SELECT device_id, register, measured_at, reading_milli, usage_milli, since FROM readings_all").all().map
            { row in
                "\(try row.decode(column: "device_id", as: String.self))|\(try row.decode(column: "measured_at", as: Int64.self))|\(try row.decode(column: "reading_milli", as: Int64?.self) ?? -1)|\(try row.decode(column: "usage_milli", as: Int64?.self) ?? -1)|\(try row.decode(column: "since", as: Int64?.self) ?? -1)"
            }
            let held = try await db.raw("SELECT device_id, measured_at, reading_milli, reason FROM held_readings").all().map { row in
                "held|\(try row.decode(column: "device_id", as: String.self))|\(try row.decode(column: "measured_at", as: Int64.self))|\(try row.decode(column: "reading_milli", as: Int64?.self) ?? -1)|\(try row.decode(column: "reason", as: String.self))"
            }
            return (readings + held).sorted()
        }
    }

    static func shape(_ outcome: ReadingOutcome) -> String {
        switch outcome {
        case .accepted(_, let usage): "accepted \(usage.map(String.init) ?? "-")"
        case .duplicate: "duplicate"
        case .held(_, let reason, _): "held \(reason)"
        case .rejected(let error): "rejected \(error.code)"
        }
    }

    /// Even seeds hand the recent table over every 40 readings, so that moves into `meter_readings` run mid-stream.
    @Test("fast and careful paths give the same answers and the same rows", arguments: TestEngine.available, TestSeeds.first(8))
    func equivalence(engine: TestEngine, seed: UInt64) async throws {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        try await engine.withDatabase(fastPaths: .all) { fastDatabase in
            try await TestEngine.sqlite.withDatabase(fastPaths: .careful) { carefulDatabase in
                let devices = try await Self.seed(fastDatabase, now: now)
                _ = try await Self.seed(carefulDatabase, now: now)
                let writer = ReadingWriter(
                    database: fastDatabase, clock: FixedClock(instant: now),
                    recentLimit: seed.isMultiple(of: 2) ? 40 : 200_000)
                var fastAnswers: [String] = []
                var carefulAnswers: [String] = []
                for batch in Self.stream(seed: seed, devices: devices, count: 600) {
                    fastAnswers += try await writer.submit(companyId: Self.company, batch).map(Self.shape)
                    carefulAnswers += try await carefulDatabase.transaction { db in
                        try await ReadingWriter.write(db, [(Self.company, batch)], now: now).0[0]
                    }.map(Self.shape)
                }
                #expect(fastAnswers == carefulAnswers)
                #expect(try await Self.state(fastDatabase) == Self.state(carefulDatabase))
                let fast = await writer.fastReadings
                #expect(fast > 250, "the fast path carried most readings (\(fast) of 600)")
                if engine == .sqlite {
                    #expect(await writer.rawBatches > 0, "some batches went through the raw SQLite path")
                }
            }
        }
    }
}
