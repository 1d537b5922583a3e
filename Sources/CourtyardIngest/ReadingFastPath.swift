import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// What the ingestion writer keeps between batches, so that most readings cost a share of one multi-row insert.
///
/// It holds the newest accepted reading per (device, register), the devices that must take the careful path
/// (pending holds, meter replacements), and the devices known to be online. It is trusted only while nothing else
/// wrote: every ingestion batch of every server, and every change made outside the writer, bumps ``IngestGeneration``;
/// a writer whose last bump is not the one just before its own drops the memory, and the careful path rebuilds it.
// @unchecked Sendable: a reference type so that a batch updates it in place (a struct would copy every dictionary on
// the first write of each batch). Only the ReadingWriter touches it, from inside its one transaction in flight at a time
// (its drain loop awaits each transaction before starting the next), so no two threads ever use it at once.
final class IngestMemory: @unchecked Sendable {
    /// A register of a device, with its hash computed once (see ``DeviceKey``).
    struct Key: Hashable {
        let device: String
        let register: String
        private let hashCode: Int

        init(device: DeviceKey, register: String) {
            self.device = device.id
            self.register = register
            var hasher = Hasher()
            hasher.combine(device)
            hasher.combine(register)
            hashCode = hasher.finalize()
        }

        init(device: String, register: String) { self.init(device: DeviceKey(device), register: register) }

        static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.hashCode == rhs.hashCode && lhs.device == rhs.device && lhs.register == rhs.register
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }
    }

    var heads: [Key: ReadingRules.Point] = [:]
    /// Registers known to have no reading yet (their first reading has no usage).
    var empty: Set<Key> = []
    var careful: Set<DeviceKey> = []
    var online: Set<DeviceKey> = []
    /// Devices whose readings have effects (prepaid meters): they never take the raw path.
    var effectDevices: Set<String> = []
    /// The last-seen time the raw path last wrote per device: it rewrites a presence row only once the time has moved on
    /// by ``PresenceStore/lastSeenPrecisionMilliseconds``.
    var seenWritten: [DeviceKey: Int64] = [:]
    /// The generation this memory is valid for (see ``ReadingWriter``).
    var generation: Int64
    /// The SQLite raw path's recent tables: which takes rows, what they hold, and the move in progress.
    var recent = RecentTables()

    /// Bounds memory: beyond this many heads the memory starts again.
    static let maximumHeads = 2_000_000

    init(generation: Int64) {
        self.generation = generation
    }

    static func load(_ db: any SQLDatabase, generation: Int64, effects: (any ReadingEffects)? = nil) async throws -> IngestMemory {
        let memory = IngestMemory(generation: generation)
        if let effects { memory.effectDevices = try await effects.devices(db) }
        let rows = try await db.raw(
            """
            SELECT device_id FROM held_readings WHERE status = 'pending' UNION SELECT device_id FROM meter_replacements
            """
        ).all()
        for row in rows { memory.careful.insert(DeviceKey(try row.decode(column: "device_id", as: String.self))) }
        memory.recent.active = try await RecentReadings.activeTable(db)
        return memory
    }
}

extension IngestMemory {
    /// The usage of `reading` when it can skip the careful path, given its register's head (`nil` with `empty` for a
    /// register without readings); nil when it must be decided carefully.
    func fastUsage(_ reading: ResolvedReading, head: ReadingRules.Point?, empty: Bool) -> (usage: Int64?, since: Int64?)? {
        guard careful.isEmpty || !careful.contains(reading.device.key) else { return nil }
        let cap = ReadingRules.dailyCap(reading.device.kind)
        switch reading.value {
        case .interval(let usage):
            if let cap, usage > cap / 10 { return nil }
            return (usage, nil)
        case .cumulative(let value):
            guard let head else { return empty ? (nil, nil) : nil }
            guard reading.measuredAt > head.measuredAt,
                case .usage(let usage, _, _) = ReadingRules.delta(
                    from: head, to: .init(measuredAt: reading.measuredAt, reading: value),
                    modulus: reading.device.registerModulus, replacement: nil)
            else { return nil }
            // Anything that could meet a plausibility rule is decided carefully.
            let interval = reading.measuredAt - head.measuredAt
            if let cap, usage * 86_400_000 / max(interval, 86_400_000) > cap / 10 { return nil }
            return (usage, head.measuredAt)
        }
    }
}

/// A reading the fast path will insert, with the usage it computed.
struct FastRow {
    var index: Int
    var id: String
    var reading: ResolvedReading
    var usage: Int64?
    var since: Int64?
}

extension ReadingWriter {
    /// Applies one company's readings on SQLite with the writer's memory: readings that are newer than their
    /// register's known head, on devices without holds or replacements, and plausible, are inserted together in
    /// multi-row statements; everything else (and any row of a statement that hit a unique key: a duplicate or a
    /// reused message id) takes ``ReadingStore/apply(_:checkCaps:)`` in order.
    static func applyFast(
        _ db: any SQLDatabase, store: inout ReadingStore, readings: [ResolvedReading],
        memory: IngestMemory, engine: Database.Engine
    ) async throws -> [ReadingOutcome] {
        var outcomes = [ReadingOutcome?](repeating: nil, count: readings.count)
        try await loadHeads(db, readings: readings, memory: memory, engine: engine)
        var buffer: [FastRow] = []
        var pendingHeads: [IngestMemory.Key: ReadingRules.Point] = [:]

        func flush(_ store: inout ReadingStore) async throws {
            guard !buffer.isEmpty else { return }
            let rows = buffer
            buffer.removeAll(keepingCapacity: true)
            var failed: Set<IngestMemory.Key> = []
            var fallback = false
            for chunk in stride(from: 0, to: rows.count, by: 400).map({ Array(rows[$0..<min($0 + 400, rows.count)]) }) {
                do {
                    // Once a statement failed, the usages computed after it may rest on a row that was not stored.
                    guard !fallback else { throw StorageError.alreadyExists(detail: "an earlier statement of this batch") }
                    // A savepoint, so that a unique-key failure undoes only this statement (PostgreSQL would otherwise
                    // abort the whole transaction).
                    try await db.raw("SAVEPOINT fast_rows").run()
                    do {
                        try await insertRows(db, companyId: store.companyId, chunk)
                    } catch {
                        try await db.raw("ROLLBACK TO SAVEPOINT fast_rows").run()
                        try await db.raw("RELEASE SAVEPOINT fast_rows").run()
                        throw error
                    }
                    try await db.raw("RELEASE SAVEPOINT fast_rows").run()
                    for row in chunk { outcomes[row.index] = .accepted(id: row.id, usage: row.usage) }
                } catch {
                    // A unique key was hit (a duplicate, a conflict, a reused message id): SQLite undid just this
                    // statement; its rows, and all after them, take the careful path, which answers each precisely.
                    guard case .alreadyExists = StorageError.classify(error) ?? (error as? StorageError) else { throw error }
                    fallback = true
                    for row in chunk {
                        let key = row.reading.key
                        memory.heads[key] = nil
                        memory.empty.remove(key)
                        failed.insert(key)
                        outcomes[row.index] = try await careful(row.reading, key: key, store: &store)
                    }
                }
            }
            // Heads of keys whose rows went the careful way were set (or cleared) by it.
            for (key, head) in pendingHeads where !failed.contains(key) {
                memory.heads[key] = head
                memory.empty.remove(key)
            }
            pendingHeads.removeAll(keepingCapacity: true)
        }

        func careful(_ reading: ResolvedReading, key: IngestMemory.Key, store: inout ReadingStore) async throws -> ReadingOutcome {
            let outcome = try await store.apply(reading)
            if case .held = outcome { memory.careful.insert(reading.device.key) }
            if let head = store.newHead {
                let headKey = IngestMemory.Key(device: head.deviceId, register: head.register)
                memory.heads[headKey] = head.head
                memory.empty.remove(headKey)
            }
            return outcome
        }

        for (index, reading) in readings.enumerated() {
            let key = reading.key
            if let row = fastRow(index: index, reading, key: key, memory: memory, pendingHeads: pendingHeads, store: &store) {
                buffer.append(row)
                if case .cumulative(let value) = reading.value {
                    pendingHeads[key] = ReadingRules.Point(measuredAt: reading.measuredAt, reading: value)
                }
                continue
            }
            try await flush(&store)
            outcomes[index] = try await careful(reading, key: key, store: &store)
        }
        try await flush(&store)
        if memory.heads.count > IngestMemory.maximumHeads { memory.heads.removeAll() }
        return outcomes.map { $0! }
    }

    /// The row to insert when `reading` can skip the careful path, or nil.
    static func fastRow(
        index: Int, _ reading: ResolvedReading, key: IngestMemory.Key, memory: IngestMemory,
        pendingHeads: [IngestMemory.Key: ReadingRules.Point], store: inout ReadingStore
    ) -> FastRow? {
        let head = pendingHeads[key] ?? memory.heads[key]
        guard let (usage, since) = memory.fastUsage(reading, head: head, empty: memory.empty.contains(key)) else { return nil }
        return FastRow(index: index, id: store.ids.next(), reading: reading, usage: usage, since: since)
    }

    /// Reads the newest reading of every register the batch touches that the memory does not know yet, in a few
    /// queries (one index seek per register), so that a meter's first reading after a restart is not a careful one.
    static func loadHeads(_ db: any SQLDatabase, readings: [ResolvedReading], memory: IngestMemory, engine: Database.Engine) async throws {
        var unknown: [IngestMemory.Key] = []
        var seen: Set<IngestMemory.Key> = []
        for reading in readings {
            guard case .cumulative = reading.value, !memory.careful.contains(reading.device.key) else { continue }
            let key = reading.key
            if memory.heads[key] == nil, !memory.empty.contains(key), seen.insert(key).inserted { unknown.append(key) }
        }
        for chunk in stride(from: 0, to: unknown.count, by: 400).map({ Array(unknown[$0..<min($0 + 400, unknown.count)]) }) {
            var query = SQLQueryString("WITH keys(d, r) AS (VALUES ")
            for (offset, key) in chunk.enumerated() {
                query.appendLiteral(offset == 0 ? "(" : ", (")
                query.appendInterpolation(bind: key.device)
                query.appendLiteral(", ")
                query.appendInterpolation(bind: key.register)
                query.appendLiteral(")")
            }
            if engine == .sqlite {
                query.appendLiteral(
                    """
                    ) SELECT k.d AS device_id, k.r AS register, m.measured_at AS measured_at, m.reading_milli AS reading_milli FROM keys k
                    LEFT JOIN meter_readings m ON m.rowid = (SELECT x.rowid FROM meter_readings x WHERE x.device_id = k.d AND x.register = k.r
                                                             ORDER BY x.measured_at DESC LIMIT 1)
                    """)
            } else {
                query.appendLiteral(
                    """
                    ) SELECT k.d AS device_id, k.r AS register, m.measured_at AS measured_at, m.reading_milli AS reading_milli FROM keys k
                    LEFT JOIN LATERAL (SELECT x.measured_at, x.reading_milli FROM meter_readings x WHERE x.device_id = k.d AND x.register = k.r
                                       ORDER BY x.measured_at DESC LIMIT 1) m ON true
                    """)
            }
            let bound = try await db.raw(query).all()
            for row in bound {
                let key = IngestMemory.Key(
                    device: try row.decode(column: "device_id", as: String.self),
                    register: try row.decode(column: "register", as: String.self))
                if let at = try row.decode(column: "measured_at", as: Int64?.self),
                    let value = try row.decode(column: "reading_milli", as: Int64?.self)
                {
                    memory.heads[key] = ReadingRules.Point(measuredAt: at, reading: value)
                } else if try row.decode(column: "measured_at", as: Int64?.self) == nil {
                    memory.empty.insert(key)
                }
            }
        }
    }

    static func insertRows(_ db: any SQLDatabase, companyId: String, _ rows: [FastRow]) async throws {
        guard !rows.isEmpty else { return }
        let values = rows.map { row -> [any Encodable & Sendable] in
            let reading = row.reading
            let cumulative: Int64? = if case .cumulative(let value) = reading.value { value } else { nil }
            return [
                row.id, reading.device.communityId, reading.device.id, reading.register, reading.measuredAt, reading.receivedAt, cumulative,
                row.usage, row.since, reading.messageId, reading.source, reading.origin, reading.enteredBy, reading.note, reading.photoRef,
            ]
        }
        try await TenantSQL(db, scope: TenantScope(companyId: companyId)).insert(
            into: "meter_readings",
            columns: [
                "id", "community_id", "device_id", "register", "measured_at", "received_at", "reading_milli", "usage_milli", "since", "message_id",
                "source", "origin", "entered_by", "note", "photo_ref",
            ], rows: values
        ).run()
    }

    /// Last-seen times in multi-row upserts (new devices get their row, online ones their time); a device coming back
    /// from offline goes through ``PresenceStore`` for its alert.
    static func touchPresence(
        _ db: any SQLDatabase, companyId: String, devices: [(KnownDevice, Int64)], memory: IngestMemory,
        now: Date, engine: Database.Engine
    ) async throws {
        var presence = PresenceStore(db, companyId: companyId, now: now)
        // Devices the memory does not know yet: one query tells which are online already (the usual case); a device
        // never seen gets its row from the upsert below; only one coming back from offline needs the careful touch.
        let unknown = devices.map(\.0.key).filter { !memory.online.contains($0) }
        var offline: Set<String> = []
        for chunk in stride(from: 0, to: unknown.count, by: 500).map({ Array(unknown[$0..<min($0 + 500, unknown.count)]) }) {
            let ids: [any Encodable & Sendable] = chunk.map(\.id)
            let rows = try await TenantSQL(db, companyId: companyId, engine: engine)
                .select("device_id, online", from: "device_presence", where: "device_id IN (\(binds: ids))").all()
            var present: Set<String> = []
            for row in rows {
                let id = try row.decode(column: "device_id", as: String.self)
                present.insert(id)
                if try row.decode(column: "online", as: Int64.self) == 1 { memory.online.insert(DeviceKey(id)) } else { offline.insert(id) }
            }
            for key in chunk where !present.contains(key.id) { memory.online.insert(key) }
        }
        var known: [(KnownDevice, Int64)] = []
        for (device, seenAt) in devices {
            if offline.contains(device.id) {
                try await presence.touch(device, seenAt: seenAt)
                memory.online.insert(device.key)
            } else {
                known.append((device, seenAt))
            }
        }
        for chunk in stride(from: 0, to: known.count, by: 500).map({ Array(known[$0..<min($0 + 500, known.count)]) }) {
            let later: SQLQueryString =
                engine == .sqlite
                ? "last_seen_at = MAX(device_presence.last_seen_at, excluded.last_seen_at)"
                : "last_seen_at = GREATEST(device_presence.last_seen_at, excluded.last_seen_at)"
            try await TenantSQL(db, companyId: companyId, engine: engine).insert(
                into: "device_presence", columns: ["device_id", "community_id", "last_seen_at", "online", "changed_at"],
                rows: chunk.map { device, seenAt in [device.id, device.communityId, seenAt, Int64(1), seenAt] },
                onConflict: .onKey(["device_id"], doUpdate: later)
            ).run()
        }
    }
}
