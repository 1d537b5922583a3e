import CourtyardDevices
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
    static let insertReading = RecentReadings.insert(into: "meter_readings")
    /// The inserts into each recent table.
    static let appendRecent = [RecentReadings.insert(into: RecentReadings.table(0)), RecentReadings.insert(into: RecentReadings.table(1))]
    /// A register's newest stored reading (its head, when the memory has none).
    static let latestReading = TenantQuery.select(
        "measured_at, reading_milli", from: "meter_readings", where: "device_id = ?2 AND register = ?3",
        then: "ORDER BY measured_at DESC LIMIT 1")

    static func run(
        _ raw: any FastConnection, work: [ReadingWriter.Work], now: Date, memory: IngestMemory,
        effects: (any ReadingEffects)? = nil, recentLimit: Int = 200_000
    ) throws -> [[ReadingOutcome]]? {
        // Without effects this batch writes only readings of devices the directory resolved (devices, and their
        // communities and companies, are never deleted) and presence rows of the same devices, so SQLite's foreign-key
        // probes (three index searches per reading) could never fail; prepaid deductions keep them.
        try raw.enforceForeignKeys(!memory.effectDevices.isEmpty)
        try raw.begin()
        // The memory's heads are moved forward as rows go in (one lookup per reading); if the batch does not commit,
        // `undo` puts them back.
        var undo: [(key: IngestMemory.Key, head: ReadingRules.Point?, wasEmpty: Bool)] = []
        var committed = false
        defer {
            if !committed {
                raw.rollback()
                for entry in undo.reversed() {
                    memory.heads[entry.key] = entry.head
                    if entry.wasEmpty { memory.empty.insert(entry.key) }
                }
            }
        }
        guard let generation = try IngestGeneration.bumpedFast(raw), generation == memory.generation + 1 else { return nil }

        var ids = IdentifierSequence(at: now)
        undo.reserveCapacity(work.reduce(0) { $0 + $1.readings.count })
        var appended: [RecentRow] = []
        var results: [[ReadingOutcome]] = []
        results.reserveCapacity(work.count)
        for item in work {
            // Each submission is one company's: its statements name that tenant.
            let tenant = raw.tenant(item.companyId)
            let insert = try tenant.prepare(insertReading)
            let appendRecent = try tenant.prepare(Self.appendRecent[memory.recent.active])
            let latest = try tenant.prepare(latestReading)
            var outcomes: [ReadingOutcome] = []
            outcomes.reserveCapacity(item.readings.count)
            for reading in item.readings {
                let key = reading.key
                let slot = memory.heads.index(forKey: key)
                let known = slot.map { memory.heads.values[$0] }
                var head = known
                var empty = false
                if head == nil {
                    empty = memory.empty.contains(key)
                    if !empty, case .cumulative = reading.value, memory.careful.isEmpty || !memory.careful.contains(reading.device.key) {
                        latest.reset()
                        latest.bind(2, reading.device.id)
                        latest.bind(3, reading.register)
                        if try latest.step(), !latest.isNull(1) {
                            head = ReadingRules.Point(measuredAt: latest.int64(0), reading: latest.int64(1))
                        } else {
                            empty = true
                        }
                        latest.reset()
                    }
                }
                guard let (usage, since) = memory.fastUsage(reading, head: head, empty: empty) else { return nil }
                let id = ids.next()
                let cumulative: Int64? = if case .cumulative(let value) = reading.value { value } else { nil }
                // Routine readings go to the recent table: a cumulative register newer than its head cannot repeat a stored
                // key, and without a message id or effects nothing else needs `meter_readings`' indexes now. An interval
                // reading on a register with a head could meet a recent row's key, which only `meter_readings` would see.
                let recent = cumulative != nil && reading.messageId == nil && !memory.effectDevices.contains(reading.device.id)
                if cumulative == nil, known != nil { return nil }
                let statement = recent ? appendRecent : insert
                statement.reset()
                RecentReadings.bind(statement, id: id, reading: reading, cumulative: cumulative, usage: usage, since: since)
                do {
                    try statement.run()
                } catch  where isConstraintViolation(error) {
                    // A duplicate or a reused message id: the careful path answers it.
                    return nil
                }
                statement.reset()
                if recent {
                    appended.append(
                        RecentRow(
                            rowid: raw.lastInsertRowid, device: reading.device.key, register: reading.register,
                            measuredAt: reading.measuredAt))
                }
                if let cumulative {
                    let point = ReadingRules.Point(measuredAt: reading.measuredAt, reading: cumulative)
                    let wasEmpty = known == nil && memory.empty.contains(key)
                    undo.append((key, known, wasEmpty))
                    if let slot {
                        memory.heads.values[slot] = point
                    } else {
                        memory.heads[key] = point
                        if wasEmpty { memory.empty.remove(key) }
                    }
                }
                outcomes.append(.accepted(id: id, usage: usage))
            }
            results.append(outcomes)
        }
        // Effects (prepaid deduction) commit with the readings, or the batch takes the SQLKit path.
        if !memory.effectDevices.isEmpty {
            for (item, outcomes) in zip(work, results) {
                var accepted: [AcceptedReading] = []
                for (reading, outcome) in zip(item.readings, outcomes) where memory.effectDevices.contains(reading.device.id) {
                    if case .accepted(let id, let usage?) = outcome, usage > 0 {
                        accepted.append(
                            AcceptedReading(
                                readingId: id, device: reading.device, register: reading.register,
                                measuredAt: reading.measuredAt, usage: usage))
                    }
                }
                if accepted.isEmpty { continue }
                guard let effects, try effects.applyFast(raw.tenant(item.companyId), readings: accepted, now: now) else { return nil }
            }
        }
        // Presence: each submission's devices, as the submitting task listed them. The same device in two submissions is
        // upserted twice (the later time wins through MAX); one writer, so no lock order is needed. A device online and
        // written less than the precision ago keeps its row: every reporting device would otherwise dirty a page of
        // its own in every commit.
        var online: [DeviceKey] = []
        var written: [(DeviceKey, Int64)] = []
        for item in work {
            let tenant = raw.tenant(item.companyId)
            for (device, at) in item.lastSeen {
                if memory.online.contains(device.key) {
                    if let last = memory.seenWritten[device.key], at < last + PresenceStore.lastSeenPrecisionMilliseconds { continue }
                } else {
                    // A device coming back from offline needs its alert: the careful path writes it.
                    if try PresenceStore.isStoredOffline(tenant, device: device.id) { return nil }
                    online.append(device.key)
                }
                try PresenceStore.recordSeen(tenant, device: device, at: at)
                written.append((device.key, at))
            }
        }
        // A busy writer's batch (hundreds of readings) takes the move's next step in its own commit once enough readings
        // came in since the last (see ``RecentTables/dueStep(limit:adding:)``); after a small batch the writer takes it in a
        // transaction of its own once the batch is answered, so that a step never holds up a few single readings.
        var move = memory.recent.move
        let debt = memory.recent.debt + appended.count
        var stepped = false
        if appended.count >= RecentTables.stepInBatch, let current = move,
            let rows = memory.recent.dueStep(limit: recentLimit, adding: appended.count)
        {
            move = try RecentReadings.writeMoveStep(raw, move: current, minimumRows: rows)
            stepped = true
        }
        let nowMilliseconds = Int64(now.timeIntervalSince1970 * 1000)
        let switching = move == nil && memory.recent.wantsSwitch(adding: appended.count, limit: recentLimit, now: nowMilliseconds)
        if switching { try RecentReadings.writeSwitch(raw, to: 1 - memory.recent.active) }
        try raw.commit()
        committed = true
        memory.generation = generation
        memory.recent.move = move
        // Only a move that can take steps runs up a debt: rows appended before it was sorted are not its to catch up.
        memory.recent.debt = stepped || move?.sorted != true ? 0 : debt
        if !appended.isEmpty {
            if memory.recent.rows.isEmpty { memory.recent.startedAt = nowMilliseconds }
            memory.recent.rows.append(contentsOf: appended)
        }
        if switching { memory.recent.switched() }
        memory.online.formUnion(online)
        for (key, at) in written { memory.seenWritten[key] = max(memory.seenWritten[key] ?? .min, at) }
        return results
    }
}
