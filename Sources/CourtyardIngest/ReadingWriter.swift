import CourtyardDomain
import CourtyardStorage
import DequeModule
import Foundation
import Logging
import SQLKit

/// The group-commit writer for readings: many requests' readings in one transaction, each caller answered after the commit.
///
/// While one batch commits, new submissions queue and form the next batch, so under load one fsync serves thousands
/// of readings, and an idle writer commits a single reading at once (no timer). An acknowledged reading is durable.
public actor ReadingWriter {
    struct Submission {
        var companyId: String
        var readings: [ResolvedReading]
        var continuation: CheckedContinuation<[ReadingOutcome], any Error>
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

    public init(database: Database, clock: any WallClock = SystemClock(), maxBatch: Int = 20_000,
                logger: Logger = Logger(label: "courtyard.ingest")) {
        self.database = database
        self.clock = clock
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// Stores `readings` of one company; returns one outcome per reading once they are committed.
    public func submit(companyId: String, _ readings: [ResolvedReading]) async throws -> [ReadingOutcome] {
        if readings.isEmpty { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            queue.append(Submission(companyId: companyId, readings: readings, continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func takeBatch() -> [Submission] {
        var batch: [Submission] = []
        var size = 0
        while let next = queue.first, batch.isEmpty || size + next.readings.count <= maxBatch {
            batch.append(queue.removeFirst())
            size += next.readings.count
        }
        return batch
    }

    private func drain() async {
        while !queue.isEmpty {
            let batch = takeBatch()
            let now = clock.now()
            let work = batch.map { ($0.companyId, $0.readings) }
            do {
                let outcomes = try await database.transaction { db in try await Self.write(db, work, now: now) }
                batches += 1
                for (submission, result) in zip(batch, outcomes) { submission.continuation.resume(returning: result) }
            } catch {
                // One submission's failure (a race with another process, a constraint) must not fail its neighbours:
                // each runs again alone.
                logger.warning("reading batch failed; retrying submissions one by one", metadata: ["error": "\(error)"])
                for submission in batch {
                    do {
                        let result = try await database.transaction { db in
                            try await Self.write(db, [(submission.companyId, submission.readings)], now: now)
                        }
                        batches += 1
                        submission.continuation.resume(returning: result[0])
                    } catch {
                        submission.continuation.resume(throwing: error)
                    }
                }
            }
        }
        draining = false
    }

    static func write(_ db: any SQLDatabase, _ work: [(String, [ResolvedReading])], now: Date) async throws -> [[ReadingOutcome]] {
        var results: [[ReadingOutcome]] = []
        var stores: [String: ReadingStore] = [:]
        var seen: [String: [String: (KnownDevice, Int64)]] = [:]
        for (companyId, readings) in work {
            var store = stores[companyId] ?? ReadingStore(db, companyId: companyId, now: now)
            var outcomes: [ReadingOutcome] = []
            outcomes.reserveCapacity(readings.count)
            for reading in readings {
                outcomes.append(try await store.apply(reading))
                let last = seen[companyId]?[reading.device.id]?.1 ?? .min
                seen[companyId, default: [:]][reading.device.id] = (reading.device, max(last, reading.receivedAt))
            }
            stores[companyId] = store
            results.append(outcomes)
        }
        for (companyId, devices) in seen {
            var presence = PresenceStore(db, companyId: companyId, now: now)
            for (device, lastSeen) in devices.values.sorted(by: { $0.0.id < $1.0.id }) {
                try await presence.touch(device, seenAt: lastSeen)
            }
        }
        return results
    }
}
