import CourtyardDomain
import CourtyardStorage
import DequeModule
import Foundation
import Logging
import NIOPosix
import SQLKit

/// The group-commit writer for readings: many requests' readings in one transaction, each caller answered after the commit.
///
/// While one batch commits, new submissions queue and form the next batch, so under load one fsync serves thousands
/// of readings, and an idle writer commits a single reading at once (no timer). An acknowledged reading is durable.
public actor ReadingWriter {
    struct Submission {
        var work: Work
        var continuation: CheckedContinuation<[ReadingOutcome], any Error>
    }

    /// One submission's readings, with what the writer's thread would otherwise work out per reading: each device's
    /// newest receipt time (its presence), computed by the submitting task before it queues.
    struct Work: Sendable {
        var companyId: String
        var readings: [ResolvedReading]
        /// Each device of `readings` once, in order of first appearance, with its newest `receivedAt`.
        var lastSeen: [(device: KnownDevice, at: Int64)]

        init(companyId: String, readings: [ResolvedReading]) {
            self.companyId = companyId
            self.readings = readings
            var index: [DeviceKey: Int] = [:]
            var lastSeen: [(device: KnownDevice, at: Int64)] = []
            for reading in readings {
                if let at = index[reading.device.key] {
                    lastSeen[at].at = max(lastSeen[at].at, reading.receivedAt)
                } else {
                    index[reading.device.key] = lastSeen.count
                    lastSeen.append((reading.device, reading.receivedAt))
                }
            }
            self.lastSeen = lastSeen
        }
    }

    private let database: Database
    private let clock: any WallClock
    private let logger: Logger
    /// Most readings in one transaction.
    public let maxBatch: Int
    private var queue = Deque<Submission>()
    private var draining = false
    /// Transactions committed, for tests and metrics.
    public private(set) var batches = 0
    /// Readings stored by the fast path's multi-row inserts, and by the careful path, for tests and metrics.
    public private(set) var fastReadings = 0
    public private(set) var carefulReadings = 0
    /// What the SQLite writer keeps between batches (nil: unknown, or PostgreSQL, where several servers may write).
    private var memory: IngestMemory?
    private let usesMemory: Bool
    /// The bare connection of the SQLite raw path, opened on first use.
    private var raw: RawSQLite?
    /// Batches committed by the raw path (SQLite), for tests and metrics.
    public private(set) var rawBatches = 0
    private let engine: Database.Engine
    /// What else commits with readings (prepaid deduction), if anything.
    private let effects: (any ReadingEffects)?
    /// Recent rows (SQLite) at which the active recent table is handed over for moving into `meter_readings`.
    public let recentLimit: Int
    /// The serial of the move whose rows a task is sorting.
    private var sorting: Int?
    /// Rows sorted while the memory was out for a transaction, waiting to be taken up.
    private var sortedRows: (serial: Int, order: [Int32])?

    public init(database: Database, clock: any WallClock = SystemClock(), maxBatch: Int = 20_000,
                logger: Logger = Logger(label: "courtyard.ingest"), effects: (any ReadingEffects)? = nil, recentLimit: Int = 200_000) {
        self.effects = effects
        self.recentLimit = recentLimit
        self.database = database
        self.clock = clock
        self.maxBatch = maxBatch
        self.logger = logger
        self.usesMemory = true
        self.engine = database.engine
    }

    /// Stores `readings` of one company; returns one outcome per reading once they are committed.
    public nonisolated func submit(companyId: String, _ readings: [ResolvedReading]) async throws -> [ReadingOutcome] {
        if readings.isEmpty { return [] }
        return try await enqueue(Work(companyId: companyId, readings: readings))
    }

    private func enqueue(_ work: Work) async throws -> [ReadingOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            queue.append(Submission(work: work, continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func takeBatch() -> [Submission] {
        var batch: [Submission] = []
        var size = 0
        while let next = queue.first, batch.isEmpty || size + next.work.readings.count <= maxBatch {
            batch.append(queue.removeFirst())
            size += next.work.readings.count
        }
        return batch
    }

    private func drain() async {
        while !queue.isEmpty {
            let batch = takeBatch()
            let now = clock.now()
            let work = batch.map(\.work)
            do {
                let started = ContinuousClock.now
                let result = try await transaction(work, now: now)
                if Self.trace, ContinuousClock.now - started > .milliseconds(50) {
                    print("ingest: batch of \(work.reduce(0) { $0 + $1.readings.count }) took \(ContinuousClock.now - started), raw batches \(rawBatches)")
                }
                batches += 1
                if let effects { await effects.committed() }
                for (submission, outcomes) in zip(batch, result) { submission.continuation.resume(returning: outcomes) }
                prepareMove()
                if let rows = memory?.recent.dueStep(limit: recentLimit) { await moveStep(minimumRows: rows) }
            } catch {
                // One submission's failure (a race with another process, a constraint) must not fail its neighbours:
                // each runs again alone.
                logger.warning("reading batch failed; retrying submissions one by one", metadata: ["error": "\(error)"])
                for submission in batch {
                    do {
                        let result = try await transaction([submission.work], now: now)
                        batches += 1
                        if let effects { await effects.committed() }
                        submission.continuation.resume(returning: result[0])
                    } catch {
                        submission.continuation.resume(throwing: error)
                    }
                }
            }
        }
        draining = false
        scheduleIdleMove()
    }

    private func transaction(_ batch: [Work], now: Date) async throws -> [[ReadingOutcome]] {
        prepareMove()
        if engine == .sqlite, let kept = memory, let path = database.sqlitePath,
           kept.effectDevices.isEmpty || effects?.supportsRawSQLite == true
            || !batch.contains(where: { $0.readings.contains { kept.effectDevices.contains($0.device.id) } }) {
            // The steady state: everything fast, as one synchronous job on a bare connection. Nil means "not this batch".
            memory = nil
            let connection = try openRaw(path)
            let rawEffects = effects
            let limit = recentLimit
            let (result, busy) = try await database.withSQLiteWriteLock {
                try await Self.rawPool.runIfActive {
                    let started = ContinuousClock.now
                    let result = try ReadingRawPath.run(connection, work: batch, now: now, memory: kept, effects: rawEffects, recentLimit: limit)
                    return (result, ContinuousClock.now - started)
                }
            }
            if Self.trace { traceBusy(busy, readings: batch.reduce(0) { $0 + $1.readings.count }) }
            memory = kept
            if let result {
                rawBatches += 1
                fastReadings += batch.reduce(0) { $0 + $1.readings.count }
                return result
            }
        }
        let work = batch.map { ($0.companyId, $0.readings) }
        let kept = usesMemory ? memory : nil
        let usesMemory = usesMemory
        memory = nil
        let engine = engine
        let effects = effects
        let (outcomes, updated, fast) = try await database.transaction { db in
            var memory: IngestMemory?
            if usesMemory {
                // Is what we keep still true? Every ingestion batch (both paths, every server) and every change made outside
                // the writer (approvals, replacements, the presence sweep) bumps the generation row, which also queues
                // concurrent writers on it: the kept memory is good only if the value is exactly one past our own last bump.
                let generation = try await db.raw("UPDATE ingest_generation SET value = value + 1 WHERE id = 1 RETURNING value").first()?
                    .decode(column: "value", as: Int64.self) ?? -1
                let valid = kept.map { $0.generation + 1 == generation } ?? false
                // The careful path works on `meter_readings` alone: everything recent moves there first.
                if engine == .sqlite, try await RecentReadings.settleAll(db, bumpGeneration: false) {
                    if Self.trace { print("ingest: careful batch moved everything recent first") }
                    kept?.recent = RecentTables(active: kept?.recent.active ?? 0)
                }
                if let kept, valid {
                    kept.generation = generation
                    memory = kept
                } else {
                    memory = try await IngestMemory.load(db, generation: generation, effects: effects)
                }
            }
            return try await Self.write(db, work, now: now, memory: memory, engine: engine, effects: effects)
        }
        memory = updated
        fastReadings += fast
        carefulReadings += work.reduce(0) { $0 + $1.1.count } - fast
        return outcomes
    }

    /// Prepares the move in progress (SQLite, memory kept): its rows are sorted on another thread while the writer
    /// goes on, then taken up here; the raw path's batches take its steps.
    private func prepareMove() {
        guard engine == .sqlite, let kept = memory, let move = kept.recent.move, !move.sorted else { return }
        if let sorted = sortedRows, sorted.serial == move.serial {
            adopt(sorted.order, into: kept)
        } else {
            sort(move)
        }
    }

    /// One step of the move in progress in a transaction of its own (after a small batch, or the idle writer).
    private func moveStep(minimumRows: Int = moveRows) async {
        guard engine == .sqlite, let kept = memory, let move = kept.recent.move, move.sorted, let path = database.sqlitePath else { return }
        do {
            memory = nil
            let connection = try openRaw(path)
            let started = ContinuousClock.now
            let valid = try await database.withSQLiteWriteLock {
                try await Self.rawPool.runIfActive {
                    try RecentReadings.moveStep(connection, memory: kept, minimumRows: minimumRows)
                }
            }
            if valid { memory = kept }
            if Self.trace { print("ingest: idle move step \(valid ? "" : "refused ")took \(ContinuousClock.now - started)") }
        } catch {
            // Nothing moved (the step rolled back); the careful path will move everything before its next batch.
            logger.warning("moving recent readings failed", metadata: ["error": "\(error)"])
        }
    }

    /// Sorts a move's rows on another thread; the writer goes on and takes them up in ``sortedMove(serial:order:)``.
    private func sort(_ move: RecentTables.Move) {
        guard sorting != move.serial else { return }
        sorting = move.serial
        let rows = move.rows
        let serial = move.serial
        Task { [weak self] in
            // On a thread of its own: a sort of 200,000 rows on the shared pool would hold back request handling.
            let started = ContinuousClock.now
            guard let sorted = try? await Self.sortPool.runIfActive({ RecentRow.order(rows) }) else { return }
            if Self.trace { print("ingest: sorted \(rows.count) recent rows in \(ContinuousClock.now - started)") }
            await self?.sortedMove(serial: serial, order: sorted)
        }
    }

    private func adopt(_ order: [Int32], into kept: IngestMemory) {
        sortedRows = nil
        guard var move = kept.recent.move, !move.sorted, order.count == move.rows.count else { return }
        move.order = order
        kept.recent.move = move
    }

    static let sortPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Prints slow batches and moves, and every 200 raw batches the raw thread's time per reading and share of wall
    /// time, when COURTYARD_INGEST_TRACE is set (for benchmarking).
    static let trace = ProcessInfo.processInfo.environment["COURTYARD_INGEST_TRACE"] != nil
    private var traced: (busy: Duration, readings: Int, batches: Int, since: ContinuousClock.Instant) = (.zero, 0, 0, .now)

    private func traceBusy(_ busy: Duration, readings: Int) {
        traced.busy += busy
        traced.readings += readings
        traced.batches += 1
        guard traced.batches == 200 else { return }
        let wall = ContinuousClock.now - traced.since
        func micros(_ duration: Duration) -> Int64 { duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000 }
        print("ingest: raw thread \(micros(traced.busy) * 100 / max(micros(wall), 1)) % busy, \(micros(traced.busy) * 1_000 / Int64(max(traced.readings, 1))) ns per reading (\(traced.readings) readings)")
        traced = (.zero, 0, 0, .now)
    }

    /// The fewest rows one move step takes (whole devices are added to reach a device boundary).
    static let moveRows = 4_096

    private func sortedMove(serial: Int, order: [Int32]) async {
        if sorting == serial { sorting = nil }
        // The memory may be out for a transaction: the next move step takes the order up.
        sortedRows = (serial, order)
        if let kept = memory, kept.recent.move?.serial == serial { adopt(order, into: kept) }
        if !draining && queue.isEmpty { scheduleIdleMove() }
    }

    /// When the writer has nothing to do, it moves what is recent after a short pause, so that readers scan little.
    private func scheduleIdleMove() {
        guard engine == .sqlite, let kept = memory, !kept.recent.isEmpty else { return }
        let stamp = batches
        Task { [weak self] in
            try? await Task.sleep(for: Self.idlePause)
            await self?.moveWhileIdle(stamp: stamp)
        }
    }

    /// How long the writer waits without batches before it moves recent readings on its own.
    static let idlePause: Duration = .milliseconds(200)

    private func moveWhileIdle(stamp: Int) async {
        guard !draining, queue.isEmpty, batches == stamp, engine == .sqlite, let path = database.sqlitePath else { return }
        draining = true
        defer {
            draining = false
            if !queue.isEmpty {
                draining = true
                Task { await self.drain() }
            }
        }
        while queue.isEmpty, let kept = memory, !kept.recent.isEmpty {
            if kept.recent.move == nil {
                do {
                    memory = nil
                    let connection = try openRaw(path)
                    let valid = try await database.withSQLiteWriteLock {
                        try await Self.rawPool.runIfActive { try RecentReadings.switchTables(connection, memory: kept) }
                    }
                    if !valid { return }
                    memory = kept
                } catch {
                    logger.warning("handing recent readings over failed", metadata: ["error": "\(error)"])
                    return
                }
            }
            guard let move = kept.recent.move else { continue }
            if !move.sorted {
                guard let sorted = sortedRows, sorted.serial == move.serial else {
                    // Sorted on another thread; the sorted rows schedule the next idle move.
                    sort(move)
                    return
                }
                adopt(sorted.order, into: kept)
            }
            let before = batches
            await moveStep()
            if memory == nil || batches != before { return }
        }
    }

    private func openRaw(_ path: String) throws -> RawSQLite {
        if let raw { return raw }
        let opened = try RawSQLite(path: path, cacheKiB: 65_536, backgroundCheckpoints: true)
        raw = opened
        return opened
    }

    /// The thread the raw path's batches run on: its own, so a long batch never takes a thread that SQLiteNIO's queries
    /// (the dispatcher's reads, acks, top-ups) wait for in the shared pool.
    static let rawPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Forgets what the writer keeps (tests; after a restore).
    public func forget() { memory = nil }

    static func write(_ db: any SQLDatabase, _ work: [(String, [ResolvedReading])], now: Date,
                      memory kept: IngestMemory? = nil, engine: Database.Engine = .sqlite,
                      effects: (any ReadingEffects)? = nil) async throws -> ([[ReadingOutcome]], IngestMemory?, Int) {
        let memory = kept
        var results: [[ReadingOutcome]] = []
        var stores: [String: ReadingStore] = [:]
        var seen: [String: [String: (KnownDevice, Int64)]] = [:]
        var fast = 0
        for (companyId, readings) in work {
            var store = stores[companyId] ?? ReadingStore(db, companyId: companyId, now: now)
            var outcomes: [ReadingOutcome] = []
            if let memory {
                let before = store.carefulCount
                outcomes = try await applyFast(db, store: &store, readings: readings, memory: memory, engine: engine)
                fast += readings.count - (store.carefulCount - before)
            } else {
                outcomes.reserveCapacity(readings.count)
                for reading in readings { outcomes.append(try await store.apply(reading)) }
            }
            if let effects {
                let devices: Set<String>
                if let memory { devices = memory.effectDevices } else { devices = try await effects.devices(db) }
                if !devices.isEmpty {
                    var accepted: [AcceptedReading] = []
                    for (reading, outcome) in zip(readings, outcomes) where devices.contains(reading.device.id) {
                        if case .accepted(let id, let usage?) = outcome, usage > 0 {
                            accepted.append(AcceptedReading(readingId: id, device: reading.device, register: reading.register,
                                                            measuredAt: reading.measuredAt, usage: usage))
                        }
                    }
                    for revision in store.revisions where devices.contains(revision.device.id) {
                        accepted.append(AcceptedReading(readingId: revision.readingId, device: revision.device, register: revision.register,
                                                        measuredAt: revision.measuredAt, usage: revision.newUsage,
                                                        revisedFrom: revision.oldUsage ?? 0))
                    }
                    store.revisions.removeAll()
                    if !accepted.isEmpty {
                        try await effects.apply(db, engine: engine, companyId: companyId, readings: accepted, now: now)
                    }
                }
            }
            for reading in readings {
                let last = seen[companyId]?[reading.device.id]?.1 ?? .min
                seen[companyId, default: [:]][reading.device.id] = (reading.device, max(last, reading.receivedAt))
            }
            stores[companyId] = store
            results.append(outcomes)
        }
        for (companyId, devices) in seen {
            let sorted = devices.values.sorted(by: { $0.0.id < $1.0.id })
            if let memory {
                try await touchPresence(db, companyId: companyId, devices: sorted, memory: memory, now: now, engine: engine)
            } else {
                var presence = PresenceStore(db, companyId: companyId, now: now)
                for (device, lastSeen) in sorted { try await presence.touch(device, seenAt: lastSeen) }
            }
        }
        return (results, memory, fast)
    }
}
