import CourtyardStorage
import Foundation
import Logging
import NIOPosix

/// How the ingestion writer moves its recent readings into `meter_readings` (SQLite; see ``RecentReadings``).
///
/// A handed-over table's rows are sorted on a thread of their own while batches go on; then every batch of hundreds of
/// readings takes a step of the move in its own commit (``ReadingRawPath``), a small batch's due step runs in a
/// transaction of its own right after the batch is answered, and a writer idle for ``idlePause`` moves the rest.
extension ReadingWriter {
    /// Prepares the move in progress (SQLite, memory kept): its rows are sorted on another thread while the writer
    /// goes on, then taken up here; the raw path's batches take its steps.
    func prepareMove() {
        guard engine == .sqlite, let kept = memory, let move = kept.recent.move, !move.sorted else { return }
        if let sorted = sortedRows, sorted.serial == move.serial {
            adopt(sorted.order, into: kept)
        } else {
            sort(move)
        }
    }

    /// One step of the move in progress in a transaction of its own (after a small batch, or the idle writer).
    func moveStep(minimumRows: Int = moveRows) async {
        guard engine == .sqlite, let kept = memory, let move = kept.recent.move, move.sorted else { return }
        do {
            memory = nil
            let connection = try openFast()
            let started = ContinuousClock.now
            let valid = try await database.withSQLiteWriteLock {
                try await Self.rawPool.runIfActive {
                    try RecentReadings.moveStep(connection, memory: kept, minimumRows: minimumRows)
                }
            }
            if valid { memory = kept }
            logger.trace("recent readings move step", metadata: ["valid": "\(valid)", "took": "\(ContinuousClock.now - started)"])
        } catch {
            // Nothing moved (the step rolled back); the careful path will move everything before its next batch.
            logger.warning("moving recent readings failed", metadata: ["error": "\(error)"])
        }
    }

    /// Sorts a move's rows on another thread; the writer goes on and takes them up in ``sortedMove(serial:order:)``.
    func sort(_ move: RecentTables.Move) {
        guard sorting != move.serial else { return }
        sorting = move.serial
        let rows = move.rows
        let serial = move.serial
        let logger = logger
        Task { [weak self] in
            // On a thread of its own: a sort of 200,000 rows on the shared pool would hold back request handling.
            let started = ContinuousClock.now
            guard let sorted = try? await Self.sortPool.runIfActive({ RecentRow.order(rows) }) else { return }
            logger.trace("recent readings sorted", metadata: ["rows": "\(rows.count)", "took": "\(ContinuousClock.now - started)"])
            await self?.sortedMove(serial: serial, order: sorted)
        }
    }

    func adopt(_ order: [Int32], into kept: IngestMemory) {
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

    /// Every 200 raw batches: the raw thread's share of wall time (the `courtyard_ingest_writer_busy_percent` gauge) and,
    /// at trace level, its time per reading.
    func traceBusy(_ busy: Duration, readings: Int) {
        traced.busy += busy
        traced.readings += readings
        traced.batches += 1
        guard traced.batches == 200 else { return }
        let wall = ContinuousClock.now - traced.since
        func micros(_ duration: Duration) -> Int64 { duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000 }
        let busyPercent = micros(traced.busy) * 100 / max(micros(wall), 1)
        Instruments.ingestWriterBusy(percent: busyPercent)
        logger.trace(
            "ingestion writer",
            metadata: [
                "busy_percent": "\(busyPercent)", "readings": "\(traced.readings)",
                "ns_per_reading": "\(micros(traced.busy) * 1_000 / Int64(max(traced.readings, 1)))",
            ])
        traced = (.zero, 0, 0, .now)
    }

    /// The fewest rows one move step takes (whole devices are added to reach a device boundary).
    static let moveRows = 4_096

    func sortedMove(serial: Int, order: [Int32]) async {
        if sorting == serial { sorting = nil }
        // The memory may be out for a transaction: the next move step takes the order up.
        sortedRows = (serial, order)
        if let kept = memory, kept.recent.move?.serial == serial { adopt(order, into: kept) }
        if !draining && queue.isEmpty { scheduleIdleMove() }
    }

    /// When the writer has nothing to do, it moves what is recent after a short pause, so that readers scan little.
    /// One check is pending at a time; a check that finds batches since it was scheduled schedules the next.
    func scheduleIdleMove() {
        guard !idleMoveScheduled, engine == .sqlite, let kept = memory, !kept.recent.isEmpty else { return }
        idleMoveScheduled = true
        let stamp = batches
        Task { [weak self] in
            guard let pause = self?.idlePause else { return }
            try? await Task.sleep(for: pause)
            await self?.moveWhileIdle(stamp: stamp)
        }
    }

    func moveWhileIdle(stamp: Int) async {
        idleMoveScheduled = false
        guard !draining, queue.isEmpty, batches == stamp, engine == .sqlite else {
            if !draining { scheduleIdleMove() }
            return
        }
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
                    let connection = try openFast()
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

}
