import CourtyardDevices
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

    let database: Database
    private let clock: any WallClock
    let logger: Logger
    /// Most readings in one transaction.
    public let maxBatch: Int
    var queue = Deque<Submission>()
    var draining = false
    /// Transactions committed, for tests and metrics.
    public private(set) var batches = 0
    /// Readings stored by the fast path's multi-row inserts, and by the careful path, for tests and metrics.
    public private(set) var fastReadings = 0
    public private(set) var carefulReadings = 0
    /// What the SQLite writer keeps between batches (nil: unknown, or PostgreSQL, where several servers may write).
    var memory: IngestMemory?
    private let usesMemory: Bool
    /// The bare connection of the SQLite raw path, opened on first use.
    private var raw: (any FastConnection)?
    /// Batches committed by the raw path (SQLite), for tests and metrics.
    public private(set) var rawBatches = 0
    let engine: Database.Engine
    /// What else commits with readings (prepaid deduction), if anything.
    private let effects: (any ReadingEffects)?
    /// Recent rows (SQLite) at which the active recent table is handed over for moving into `meter_readings`.
    public let recentLimit: Int
    /// How long the writer waits without batches before it moves recent readings on its own (200 ms by default).
    public let idlePause: Duration
    /// The serial of the move whose rows a task is sorting.
    var sorting: Int?
    /// Rows sorted while the memory was out for a transaction, waiting to be taken up.
    var sortedRows: (serial: Int, order: [Int32])?
    /// Whether a check for an idle writer is pending.
    var idleMoveScheduled = false
    /// The raw thread's time and readings since the last trace line (COURTYARD_INGEST_TRACE).
    var traced: (busy: Duration, readings: Int, batches: Int, since: ContinuousClock.Instant) = (.zero, 0, 0, .now)

    public init(
        database: Database, clock: any WallClock = SystemClock(), maxBatch: Int = 20_000,
        logger: Logger = Logger(label: "courtyard.ingest"), effects: (any ReadingEffects)? = nil, recentLimit: Int = 200_000,
        idlePause: Duration = .milliseconds(200)
    ) {
        self.effects = effects
        self.recentLimit = recentLimit
        self.idlePause = idlePause
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

    func drain() async {
        while !queue.isEmpty {
            let batch = takeBatch()
            let now = clock.now()
            let work = batch.map(\.work)
            do {
                let started = ContinuousClock.now
                let result = try await transaction(work, now: now)
                let took = ContinuousClock.now - started
                if took > .milliseconds(50) {
                    logger.trace(
                        "slow ingestion batch",
                        metadata: [
                            "readings": "\(work.reduce(0) { $0 + $1.readings.count })",
                            "took": "\(took)", "raw_batches": "\(rawBatches)",
                        ])
                }
                batches += 1
                if let effects { await effects.committed() }
                for (submission, outcomes) in zip(batch, result) { submission.continuation.resume(returning: outcomes) }
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
        if engine == .sqlite, database.fastPaths.readings, let kept = memory,
            kept.effectDevices.isEmpty || effects?.supportsFastPath == true
                || !batch.contains(where: { $0.readings.contains { kept.effectDevices.contains($0.device.id) } })
        {
            // The steady state: everything fast, as one synchronous job on a bare connection. Nil means "not this batch".
            memory = nil
            let connection = try openFast()
            let rawEffects = effects
            let limit = recentLimit
            let (result, busy) = try await database.withSQLiteWriteLock {
                try await Self.rawPool.runIfActive {
                    let started = ContinuousClock.now
                    let result = try ReadingRawPath.run(connection, work: batch, now: now, memory: kept, effects: rawEffects, recentLimit: limit)
                    return (result, ContinuousClock.now - started)
                }
            }
            let readings = batch.reduce(0) { $0 + $1.readings.count }
            traceBusy(busy, readings: readings)
            memory = kept
            if let result {
                Instruments.readingsWritten(path: "raw", readings: readings, seconds: busy)
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
        let carefulStart = ContinuousClock.now
        let (outcomes, updated, fast) = try await database.transaction { db in
            var memory: IngestMemory?
            if usesMemory {
                // Is what we keep still true? Every ingestion batch (both paths, every server) and every change made outside
                // the writer (approvals, replacements, the presence sweep) bumps the generation row, which also queues
                // concurrent writers on it: the kept memory is good only if the value is exactly one past our own last bump.
                let generation = try await IngestGeneration.bumped(db)
                let valid = kept.map { $0.generation + 1 == generation } ?? false
                // The careful path works on `meter_readings` alone: everything recent moves there first.
                if engine == .sqlite, try await RecentReadings.settleAll(db, bumpGeneration: false) {
                    logger.debug("careful batch moved every recent reading first")
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
        Instruments.readingsWritten(
            path: "careful", readings: batch.reduce(0) { $0 + $1.readings.count },
            seconds: ContinuousClock.now - carefulStart)
        carefulReadings += work.reduce(0) { $0 + $1.1.count } - fast
        return outcomes
    }

    /// The fast path's connection, opened on first use.
    func openFast() throws -> any FastConnection {
        if let raw { return raw }
        let opened = try database.openFastConnection(cacheKiB: 65_536)
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

    /// Returns once every submitted batch has committed and been answered: for a graceful shutdown, after everything
    /// that submits has stopped.
    public func idle() async {
        while draining { try? await Task.sleep(for: .milliseconds(5)) }
    }

    static func write(
        _ db: any SQLDatabase, _ work: [(String, [ResolvedReading])], now: Date,
        memory kept: IngestMemory? = nil, engine: Database.Engine = .sqlite,
        effects: (any ReadingEffects)? = nil
    ) async throws -> ([[ReadingOutcome]], IngestMemory?, Int) {
        let memory = kept
        var results: [[ReadingOutcome]] = []
        var stores: [String: ReadingStore] = [:]
        var seen: [String: [String: (KnownDevice, Int64)]] = [:]
        var fast = 0
        // Prepaid deductions of the whole batch, per company, applied after every reading is stored: once per company,
        // so a company's plans are locked together before its chain head (a second deduction in the same transaction
        // would lock another plan while holding the head, against a top-up that holds that plan and waits for the head:
        // the crash test's PostgreSQL deadlock), and companies in id order.
        var effectReadings: [String: [AcceptedReading]] = [:]
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
                            accepted.append(
                                AcceptedReading(
                                    readingId: id, device: reading.device, register: reading.register,
                                    measuredAt: reading.measuredAt, usage: usage))
                        }
                    }
                    for revision in store.revisions where devices.contains(revision.device.id) {
                        accepted.append(
                            AcceptedReading(
                                readingId: revision.readingId, device: revision.device, register: revision.register,
                                measuredAt: revision.measuredAt, usage: revision.newUsage,
                                revisedFrom: revision.oldUsage ?? 0))
                    }
                    store.revisions.removeAll()
                    effectReadings[companyId, default: []].append(contentsOf: accepted)
                }
            }
            for reading in readings {
                let last = seen[companyId]?[reading.device.id]?.1 ?? .min
                seen[companyId, default: [:]][reading.device.id] = (reading.device, max(last, reading.receivedAt))
            }
            stores[companyId] = store
            results.append(outcomes)
        }
        if let effects {
            for (companyId, accepted) in effectReadings.sorted(by: { $0.key < $1.key }) where !accepted.isEmpty {
                try await effects.apply(db, engine: engine, companyId: companyId, readings: accepted, now: now)
            }
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
