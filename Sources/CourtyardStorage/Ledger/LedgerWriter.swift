import CourtyardDomain
import CourtyardLedger
import CourtyardSQLite
import DequeModule
import Foundation
import Logging
import Metrics
import NIOPosix
import PostgresKit
import SQLKit

/// The single path by which money moves: a group-commit writer for ledger operations.
///
/// Callers ``submit(companyId:_:linked:)`` operations and are answered only
/// after the transaction holding them has committed. While one batch commits,
/// new submissions queue up and form the next batch, so under load many
/// transfers share one transaction (and one fsync) without any caller waiting
/// for a timer. Each submission is applied independently (a linked submission
/// all-or-nothing), so one refused transfer never fails its neighbours.
public actor LedgerWriter {
    /// The result of one operation.
    public typealias Outcome = Result<LedgerState.Outcome, LedgerError>

    /// Operations as they enter a batch: with their content digests, computed by the submitting task.
    struct Work: Sendable {
        var companyId: String
        var operations: [LedgerOperation]
        var digests: [String]
        var linked: Bool
        /// Sizes of consecutive linked groups, each all-or-nothing on its own (many bills' postings in one submission);
        /// `nil` for a plain or a single linked submission.
        var groups: [Int]? = nil
        /// Rows written in the same transaction (such a submission is a batch of its own).
        var attachment: Attachment? = nil
    }

    /// Rows written in the same transaction as a submission's postings, so that the records the postings come from (a
    /// bill run's bills and lines) commit together with them or not at all, and a run needs one transaction per chunk
    /// instead of one for its rows, one for its postings and one to mark them posted.
    public struct Attachment: Sendable {
        public var rows: [BulkWriter.Rows]
        public var updates: [BulkWriter.Update]
        public var marking: PostedMark?
        /// Ids of groups with nothing to post, marked with the others (the submission's ``PostedMark/ids`` then keep only
        /// the groups that reach the ledger, in the order of ``Work/groups``).
        var markedWithoutPostings: [String] = []

        /// Where to record that a linked group posted: `column` of the row of `table` whose id is the group's is set
        /// to the commit's time (milliseconds since the epoch) when every operation of the group succeeded, or when the
        /// group has none. `ids` has one id per linked group, in order.
        public struct PostedMark: Sendable {
            public var table: String
            public var column: String
            public var ids: [String]
            public init(table: String, column: String, ids: [String]) {
                self.table = table; self.column = column; self.ids = ids
            }
        }

        public init(rows: [BulkWriter.Rows], updates: [BulkWriter.Update] = [], marking: PostedMark? = nil) {
            self.rows = rows; self.updates = updates; self.marking = marking
        }
    }

    struct Submission {
        var work: Work
        var continuation: CheckedContinuation<[Outcome], any Error>
    }

    private let database: Database
    private let clock: any WallClock
    private let logger: Logger
    /// Most operations in one transaction.
    public let maxBatch: Int
    private var queue = Deque<Submission>()
    /// Operations waiting in `queue`.
    private var queuedOperations = 0
    /// The raw SQLite handle of the fast path, opened on first use (SQLite only).
    private var raw: RawSQLite?
    /// Whether the SQLite fast path is used; the SQLKit path serves PostgreSQL and can be forced for comparison.
    public let usesSQLiteFastPath: Bool
    private var draining = false

    /// Counts of batches by path, for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        /// Batches committed (any path).
        public var batches = 0
        /// Batches applied in memory and written by the pipeline (SQLite).
        public var pipelined = 0
        /// Pipelined batches whose write failed (a replay, another writer, an error) and that ran again sequentially.
        public var rerun = 0
    }

    public private(set) var statistics = Statistics()

    /// Most accounts the SQLite fast path keeps in memory per company (see `RawSQLite.maxCachedAccounts`).
    let keptAccounts: Int

    public init(
        database: Database, clock: any WallClock = SystemClock(), maxBatch: Int = 16_384,
        logger: Logger = Logger(label: "courtyard.ledger"),
        sqliteFastPath: Bool? = nil,
        keptAccounts: Int = 200_000
    ) {
        self.keptAccounts = keptAccounts
        self.database = database
        // Unless told otherwise, as the database was opened (``FastPaths/ledger``).
        self.usesSQLiteFastPath = (sqliteFastPath ?? database.fastPaths.ledger) && database.engine == .sqlite && database.sqlitePath != nil
        self.clock = clock
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// Applies `operations` for `companyId`; returns one outcome per operation once they are durable.
    public nonisolated func submit(companyId: String, _ operations: [LedgerOperation], linked: Bool = false) async throws -> [Outcome] {
        // Hashing the operations here spreads that work over the submitting tasks instead of the single writer.
        let work = Work(companyId: companyId, operations: operations, digests: operations.map(\.contentDigest), linked: linked)
        return try await enqueue(work)
    }

    /// Applies many linked groups in one submission: each group all-or-nothing, independently of the others (one refused
    /// bill does not stop its neighbours). Outcomes come back grouped as submitted. One submission for a page of bills
    /// spares the writer one queue entry, one continuation and one wake-up per bill.
    public nonisolated func submit(companyId: String, linkedGroups: [[LedgerOperation]]) async throws -> [[Outcome]] {
        guard linkedGroups.contains(where: { !$0.isEmpty }) else { return linkedGroups.map { _ in [] } }
        return try await submitGroups(companyId: companyId, linkedGroups, attachment: nil)
    }

    /// Writes `attachment`'s rows and updates and applies `linkedGroups` (as ``submit(companyId:linkedGroups:)``) in one
    /// transaction, then marks each group that posted (``Attachment/PostedMark``) in the same transaction. A row that
    /// cannot be written (a duplicate id, a row of another company) fails the whole submission and writes nothing;
    /// refused groups are answered as usual and left unmarked.
    public nonisolated func submit(
        companyId: String, linkedGroups: [[LedgerOperation]], attaching attachment: Attachment
    )
        async throws -> [[Outcome]]
    {
        try BulkWriter.checkScope(attachment.rows, companyId: companyId)
        if let marking = attachment.marking, marking.ids.count != linkedGroups.count {
            throw StorageError.checkViolation(detail: "a posted mark needs one id per linked group")
        }
        var attached = attachment
        if let marking = attachment.marking {
            attached.marking?.ids = zip(marking.ids, linkedGroups).compactMap { $1.isEmpty ? nil : $0 }
            attached.markedWithoutPostings = zip(marking.ids, linkedGroups).compactMap { $1.isEmpty ? $0 : nil }
        }
        return try await submitGroups(companyId: companyId, linkedGroups, attachment: attached)
    }

    /// One submission of many linked groups (empty ones answered with nothing), outcomes grouped as submitted.
    private nonisolated func submitGroups(
        companyId: String, _ linkedGroups: [[LedgerOperation]], attachment: Attachment?
    )
        async throws -> [[Outcome]]
    {
        let groups = linkedGroups.filter { !$0.isEmpty }
        let operations = groups.flatMap { $0 }
        let work = Work(
            companyId: companyId, operations: operations, digests: operations.map(\.contentDigest), linked: false,
            groups: groups.map(\.count), attachment: attachment)
        let flat = try await enqueue(work)
        var answers: [[Outcome]] = []
        var offset = 0
        for group in linkedGroups {
            answers.append(Array(flat[offset..<(offset + group.count)]))
            offset += group.count
        }
        return answers
    }

    private func enqueue(_ work: Work) async throws -> [Outcome] {
        try await withCheckedThrowingContinuation { continuation in
            queue.append(Submission(work: work, continuation: continuation))
            queuedOperations += work.operations.count
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    /// Applies one operation.
    public func submit(companyId: String, _ operation: LedgerOperation) async throws -> Outcome {
        try await submit(companyId: companyId, [operation])[0]
    }

    /// The next batch from the queue: at most `maxBatch` operations, unless one submission alone is larger.
    private func takeBatch() -> [Submission] {
        var batch: [Submission] = []
        var size = 0
        // A submission with rows attached is a batch of its own: a row that fails must fail no one else's postings.
        while let next = queue.first,
            batch.isEmpty || (size + next.work.operations.count <= maxBatch && next.work.attachment == nil && batch[0].work.attachment == nil)
        {
            batch.append(queue.removeFirst())
            size += next.work.operations.count
        }
        queuedOperations -= size
        return batch
    }

    private func drain() async {
        if let raw = try? rawSQLite() {
            await drainPipelined(raw)
        } else {
            while !queue.isEmpty { await commit(takeBatch()) }
        }
        draining = false
    }

    /// The SQLite fast path: while one batch is written and committed, the next is applied in memory (see
    /// ``SQLiteLedgerPipeline``). Batches commit, and their callers are answered, strictly in order.
    private func drainPipelined(_ raw: RawSQLite) async {
        let database = database
        // The batch being written: its submissions and the task that writes it.
        var writing: (batch: [Submission], results: [[Outcome]], task: Task<Void, any Error>, started: ContinuousClock.Instant)?
        while true {
            let next = queue.isEmpty ? nil : takeBatch()
            let now = clock.now()
            var prepared: SQLiteLedgerPipeline.PreparedBatch?
            if let next {
                let work = next.map(\.work)
                // Overlaps with the write of the batch before, if any; nothing else touches the kept states meanwhile.
                prepared = try? await NIOThreadPool.singleton.runIfActive {
                    SQLiteLedgerPipeline.prepare(raw, submissions: work, now: now)
                }
            }
            if let current = writing {
                writing = nil
                do {
                    try await current.task.value
                    statistics.batches += 1
                    statistics.pipelined += 1
                    Instruments.ledgerBatch(
                        path: "pipelined", operations: current.batch.reduce(0) { $0 + $1.work.operations.count },
                        seconds: ContinuousClock.now - current.started)
                    for (submission, outcome) in zip(current.batch, current.results) { submission.continuation.resume(returning: outcome) }
                } catch {
                    // Whatever was prepared on top of the failed batch is void; both run again on the sequential path.
                    raw.ledgerMemory.ledgers.removeAll()
                    prepared = nil
                    statistics.rerun += 1
                    Counter(label: "courtyard_ledger_batches_total", dimensions: [("path", "rerun")]).increment()
                    await commit(current.batch)
                }
            }
            guard let next else {
                if queue.isEmpty { return }
                continue
            }
            guard let prepared else {
                await commit(next)
                continue
            }
            let finished = Flag()
            let task = Task {
                defer { finished.set() }
                try await database.withSQLiteWriteLock {
                    try await NIOThreadPool.singleton.runIfActive { try SQLiteLedgerPipeline.persist(raw, prepared, now: now) }
                }
            }
            writing = (next, prepared.results, task, ContinuousClock.now)
            // Callers answered a moment ago are still resubmitting: rather than cut a small batch now (each costs a
            // commit of its own), let the next one fill while this write runs.
            // A submission with rows attached is a batch of its own: nothing to wait for once one is queued.
            while queuedOperations < maxBatch, !finished.isSet, queue.first?.work.attachment == nil {
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
    }

    /// A one-way flag set by the write task and read by the writer.
    private final class Flag: @unchecked Sendable {
        // @unchecked Sendable: `value` is only read and written under `lock`.
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    private func commit(_ batch: [Submission]) async {
        let now = clock.now()
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            do {
                let submissions = batch.map(\.work)
                let results: [[Outcome]]
                if let raw = try rawSQLite() {
                    results = try await database.withSQLiteWriteLock {
                        try await NIOThreadPool.singleton.runIfActive { try SQLiteLedgerBatch.run(raw, submissions: submissions, now: now) }
                    }
                } else if database.engine == .postgres, database.fastPaths.bulk, submissions.contains(where: { $0.attachment != nil }) {
                    // Attached rows are copied in (COPY needs the connection itself), in the postings' transaction.
                    results = try await database.withPostgresTransaction { [database] connection in
                        try await Self.apply(submissions, db: connection.sql(queryLogLevel: .trace), engine: database.engine, now: now) {
                            rows, updates, companyId in
                            try await BulkWriter.apply(rows, updates: updates, companyId: companyId, on: connection, logger: database.logger)
                        }
                    }
                } else {
                    results = try await database.transaction { [database] db in
                        try await Self.apply(submissions, db: db, engine: database.engine, now: now) { rows, updates, companyId in
                            try await BulkWriter.apply(rows, updates: updates, companyId: companyId, on: db)
                        }
                    }
                }
                statistics.batches += 1
                Instruments.ledgerBatch(
                    path: "sequential", operations: batch.reduce(0) { $0 + $1.work.operations.count },
                    seconds: ContinuousClock.now - started)
                for (submission, outcome) in zip(batch, results) { submission.continuation.resume(returning: outcome) }
                return
            } catch {
                // Serialization failures, deadlocks and a concurrent writer taking the same transfer id are retried; a
                // duplicate among attached rows is not (it would fail again), only a busy or serialization failure.
                let attached = batch.contains { $0.work.attachment != nil }
                if attempt < 5, Self.isRetryable(error), !(attached && StorageError.classify(error) != nil) {
                    logger.debug("retrying ledger batch", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(5 * attempt))
                    continue
                }
                logger.error("ledger batch failed", metadata: ["error": "\(String(reflecting: error))", "operations": "\(batch.count)"])
                for submission in batch { submission.continuation.resume(throwing: error) }
                return
            }
        }
    }

    /// Per-batch timings at trace level (`--log-level trace`), from static code of the fast path.
    static let traceLogger = Logger(label: "courtyard.ledger")

    private func rawSQLite() throws -> RawSQLite? {
        guard usesSQLiteFastPath, let path = database.sqlitePath else { return nil }
        if let raw { return raw }
        let opened = try RawSQLite(path: path, checkpointer: database.checkpointer, enforceForeignKeys: false)
        opened.ledgerMemory.maxCachedAccounts = keptAccounts
        raw = opened
        return opened
    }

    static func isRetryable(_ error: any Error) -> Bool {
        if case .alreadyExists = error as? StorageError { return true }
        let text = String(reflecting: error)
        if let failure = error as? RawSQLite.Failure, failure.code & 0xFF == 5 { return true }  // SQLITE_BUSY
        return text.contains("40001") || text.contains("40P01") || text.contains("SQLITE_BUSY") || text.contains("database is locked")
    }

    /// Writes an attachment's rows and updates in the open transaction (engine-specific).
    typealias AttachmentWrite = (_ rows: [BulkWriter.Rows], _ updates: [BulkWriter.Update], _ companyId: String) async throws -> Void

    /// Applies submissions inside an open transaction, with their attached rows written first and their posted marks last.
    static func apply(
        _ submissions: [Work], db: any SQLDatabase, engine: Database.Engine, now: Date,
        writeAttachment: AttachmentWrite
    ) async throws -> [[Outcome]] {
        for work in submissions {
            if let attachment = work.attachment { try await writeAttachment(attachment.rows, attachment.updates, work.companyId) }
        }
        let results = try await apply(submissions, db: db, engine: engine, now: now)
        for (work, outcomes) in zip(submissions, results) {
            let marks = postedMarks(work, outcomes: outcomes, at: now.epochMilliseconds)
            if !marks.isEmpty { try await writeAttachment([], marks, work.companyId) }
        }
        return results
    }

    /// The updates that mark an attachment's groups posted: each group all of whose operations succeeded, and each group
    /// that had none.
    static func postedMarks(_ work: Work, outcomes: [Outcome], at millis: Int64) -> [BulkWriter.Update] {
        guard let attachment = work.attachment, let marking = attachment.marking else { return [] }
        var posted = attachment.markedWithoutPostings
        var start = 0
        for (id, size) in zip(marking.ids, work.groups ?? []) {
            let succeeded = outcomes[start..<(start + size)].allSatisfy { if case .success = $0 { true } else { false } }
            if succeeded { posted.append(id) }
            start += size
        }
        return posted.map { BulkWriter.Update(table: marking.table, set: marking.column, to: .integer(millis), id: $0) }
    }

    /// Applies submissions inside an open transaction.
    static func apply(
        _ submissions: [Work], db: any SQLDatabase,
        engine: Database.Engine, now: Date
    ) async throws -> [[Outcome]] {
        var results = [[Outcome]](repeating: [], count: submissions.count)
        let byCompany = Dictionary(grouping: submissions.indices, by: { submissions[$0].companyId })
        for companyId in byCompany.keys.sorted() {
            let indices = byCompany[companyId]!
            let store = LedgerStore(db, companyId: companyId, engine: engine)
            var state = LedgerState(companyId: companyId)
            let started = ContinuousClock.now
            try await store.load(indices.flatMap { submissions[$0].operations }, into: &state, now: now)
            let loaded = ContinuousClock.now
            applySubmissions(submissions, indices: indices, to: &state, at: now.epochMilliseconds, results: &results)
            let applied = ContinuousClock.now
            try await store.write(state, now: now)
            LedgerWriter.traceLogger.trace(
                "ledger batch: \(indices.reduce(0) { $0 + submissions[$1].operations.count }) ops, load \(loaded - started), apply \(applied - loaded), write \(ContinuousClock.now - applied)"
            )
        }
        return results
    }

    /// Applies each submission (a linked one all-or-nothing) to `state`, recording outcomes by submission index.
    static func applySubmissions(
        _ submissions: [Work], indices: [Int],
        to state: inout LedgerState, at millis: Int64, results: inout [[Outcome]]
    ) {
        for index in indices {
            let submission = submissions[index]
            if let groups = submission.groups {
                var outcomes: [Outcome] = []
                outcomes.reserveCapacity(submission.operations.count)
                var start = 0
                for size in groups {
                    let operations = Array(submission.operations[start..<(start + size)])
                    let digests = Array(submission.digests[start..<(start + size)])
                    switch state.apply(linked: operations, at: millis, digests: digests) {
                    case .success(let applied): outcomes += applied.map { .success($0) }
                    case .failure(let error): outcomes += operations.map { _ in .failure(error) }
                    }
                    start += size
                }
                results[index] = outcomes
            } else if submission.linked {
                switch state.apply(linked: submission.operations, at: millis, digests: submission.digests) {
                case .success(let outcomes): results[index] = outcomes.map { .success($0) }
                case .failure(let error): results[index] = submission.operations.map { _ in .failure(error) }
                }
            } else {
                results[index] = zip(submission.operations, submission.digests).map { state.apply($0, at: millis, digest: $1) }
            }
        }
    }

    /// Expires pending holds whose time has passed; returns how many were released.
    @discardableResult
    /// Returns once every submitted batch has committed and been answered: for a graceful shutdown, after everything
    /// that submits has stopped.
    public func idle() async {
        while draining { try? await Task.sleep(for: .milliseconds(5)) }
    }

    public func expireDueHolds(limit: Int = 1_000) async throws -> Int {
        let now = clock.now()
        let due = try await database.read { db in try await LedgerStore.dueHolds(db, now: now, limit: limit) }
        var released = 0
        for (companyId, holds) in Dictionary(grouping: due, by: \.companyId) {
            let outcomes = try await submit(companyId: companyId, holds.map { .expireHold(holdId: $0.holdId) })
            released += outcomes.filter { if case .success(let o) = $0 { return !o.replayed } else { return false } }.count
        }
        return released
    }
}
