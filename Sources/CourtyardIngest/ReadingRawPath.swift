import CourtyardDomain
import CourtyardStorage
import Foundation

/// The SQLite writer's quickest way: a whole batch as one synchronous job on a bare connection with prepared
/// statements, for the steady state in which every reading can skip the careful path.
///
/// It commits only if the kept memory is valid (the generation row is one past its last bump), every reading passes
/// ``IngestMemory/fastUsage(_:head:empty:)``, no insert meets a unique key, and no device comes back from offline;
/// otherwise it rolls back and returns nil, and the batch runs through the SQLKit paths, which answer every case.
/// Memory is updated only after the commit.
enum ReadingRawPath {
    static let insertSQL = """
        INSERT INTO meter_readings (id, company_id, community_id, device_id, register, measured_at, received_at, reading_milli,
                                    usage_milli, since, message_id, source, origin, entered_by, note, photo_ref)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
        """

    static func run(_ raw: RawSQLite, work: [(String, [ResolvedReading])], now: Date, memory: IngestMemory,
                    effects: (any ReadingEffects)? = nil) throws -> [[ReadingOutcome]]? {
        try raw.begin()
        var committed = false
        defer { if !committed { try? raw.execute("ROLLBACK") } }
        let bump = try raw.statement("UPDATE ingest_generation SET value = value + 1 WHERE id = 1 RETURNING value")
        guard try bump.step() else { return nil }
        let generation = bump.int64(0)
        bump.reset()
        guard generation == memory.generation + 1 else { return nil }

        var ids = IdentifierSequence(at: now)
        var heads: [IngestMemory.Key: ReadingRules.Point] = [:]
        var online: Set<String> = []
        let insert = try raw.statement(insertSQL)
        let latest = try raw.statement("""
            SELECT measured_at, reading_milli FROM meter_readings WHERE device_id = ?1 AND register = ?2 ORDER BY measured_at DESC LIMIT 1
            """)
        var results: [[ReadingOutcome]] = []
        var seen: [String: (companyId: String, device: KnownDevice, at: Int64)] = [:]
        for (companyId, readings) in work {
            var outcomes: [ReadingOutcome] = []
            outcomes.reserveCapacity(readings.count)
            for reading in readings {
                let key = IngestMemory.Key(device: reading.device.id, register: reading.register)
                var head = heads[key] ?? memory.heads[key]
                var empty = memory.empty.contains(key)
                if head == nil, !empty, case .cumulative = reading.value, !memory.careful.contains(reading.device.id) {
                    latest.reset()
                    latest.bind(1, reading.device.id)
                    latest.bind(2, reading.register)
                    if try latest.step(), !latest.isNull(1) {
                        head = ReadingRules.Point(measuredAt: latest.int64(0), reading: latest.int64(1))
                    } else {
                        empty = true
                    }
                    latest.reset()
                }
                guard let (usage, since) = memory.fastUsage(reading, head: head, empty: empty) else { return nil }
                let id = ids.next()
                let cumulative: Int64? = if case .cumulative(let value) = reading.value { value } else { nil }
                insert.reset()
                insert.bind(1, id)
                insert.bind(2, companyId)
                insert.bind(3, reading.device.communityId)
                insert.bind(4, reading.device.id)
                insert.bind(5, reading.register)
                insert.bind(6, reading.measuredAt)
                insert.bind(7, reading.receivedAt)
                insert.bind(8, cumulative)
                insert.bind(9, usage)
                insert.bind(10, since)
                insert.bind(11, reading.messageId)
                insert.bind(12, reading.source)
                insert.bind(13, reading.origin)
                insert.bind(14, reading.enteredBy)
                insert.bind(15, reading.note)
                insert.bind(16, reading.photoRef)
                do {
                    try insert.run()
                } catch let failure as RawSQLite.Failure where failure.isConstraint {
                    // A duplicate or a reused message id: the careful path answers it.
                    return nil
                }
                insert.reset()
                if let cumulative { heads[key] = ReadingRules.Point(measuredAt: reading.measuredAt, reading: cumulative) }
                outcomes.append(.accepted(id: id, usage: usage))
                let last = seen[reading.device.id]?.at ?? .min
                seen[reading.device.id] = (companyId, reading.device, max(last, reading.receivedAt))
            }
            results.append(outcomes)
        }
        // Effects (prepaid deduction) commit with the readings, or the batch takes the SQLKit path.
        if !memory.effectDevices.isEmpty {
            for ((companyId, readings), outcomes) in zip(work, results) {
                var accepted: [AcceptedReading] = []
                for (reading, outcome) in zip(readings, outcomes) where memory.effectDevices.contains(reading.device.id) {
                    if case .accepted(let id, let usage?) = outcome, usage > 0 {
                        accepted.append(AcceptedReading(readingId: id, device: reading.device, register: reading.register,
                                                        measuredAt: reading.measuredAt, usage: usage))
                    }
                }
                if accepted.isEmpty { continue }
                guard let effects, try effects.applyRaw(raw, companyId: companyId, readings: accepted, now: now) else { return nil }
            }
        }
        let presence = try raw.statement("SELECT online FROM device_presence WHERE device_id = ?1")
        let upsert = try raw.statement("""
            INSERT INTO device_presence (device_id, company_id, community_id, last_seen_at, online, changed_at) VALUES (?1, ?2, ?3, ?4, 1, ?4)
            ON CONFLICT (device_id) DO UPDATE SET last_seen_at = MAX(device_presence.last_seen_at, excluded.last_seen_at)
            """)
        for (deviceId, entry) in seen.sorted(by: { $0.key < $1.key }) {
            if !memory.online.contains(deviceId) {
                presence.reset()
                presence.bind(1, deviceId)
                // A device coming back from offline needs its alert: the careful path writes it.
                if try presence.step(), presence.int64(0) == 0 { return nil }
                presence.reset()
                online.insert(deviceId)
            }
            upsert.reset()
            upsert.bind(1, deviceId)
            upsert.bind(2, entry.companyId)
            upsert.bind(3, entry.device.communityId)
            upsert.bind(4, entry.at)
            try upsert.run()
            upsert.reset()
        }
        try raw.commit()
        committed = true
        memory.generation = generation
        for (key, head) in heads {
            memory.heads[key] = head
            memory.empty.remove(key)
        }
        memory.online.formUnion(online)
        return results
    }
}
