import CourtyardDevices
import CourtyardStorage
import Foundation
import SQLKit
import Synchronization

/// The SQLite writer's recent readings: appended to an index-free table at commit, moved into `meter_readings` later,
/// sorted by device, a range of devices per transaction (see ``Schema`` migration 8, `recent_readings`).
///
/// Why: `meter_readings` is ordered by device, so a commit of readings from 2,000 meters rewrote 2,000 of its pages in
/// the write-ahead log, and the cost per reading grew with the table. Appending costs a few pages per commit; moving
/// 200,000 readings of 20,000 meters at once writes each device's page once for ten readings.
///
/// Readers see both through the view `readings_all`; code that changes readings calls ``settleAll(_:bumpGeneration:)``
/// first and then works on `meter_readings` alone.
public enum RecentReadings {
    static func table(_ number: Int) -> String { "recent_readings_\(number)" }

    /// The insert of one reading into `table` (`meter_readings` or a recent table): the tenant is parameter 1, the
    /// other fifteen columns follow in ``Schema/readingColumns`` order.
    static func insert(into table: String) -> TenantQuery {
        TenantQuery.insert(into: table, columns: readingColumnsBesideTenant)
    }

    /// ``Schema/readingColumns`` without the tenant's, which ``TenantQuery/insert(into:columns:values:onConflict:)`` adds.
    static let readingColumnsBesideTenant = [
        "id", "community_id", "device_id", "register", "measured_at", "received_at", "reading_milli", "usage_milli", "since",
        "message_id", "source", "origin", "entered_by", "note", "photo_ref",
    ]

    /// Binds one reading's fifteen columns after the tenant, in ``readingColumnsBesideTenant`` order.
    static func bind(
        _ statement: any FastStatement, id: String, reading: ResolvedReading, cumulative: Int64?, usage: Int64?, since: Int64?
    ) {
        statement.bind(2, id)
        statement.bind(3, reading.device.communityId)
        statement.bind(4, reading.device.id)
        statement.bind(5, reading.register)
        statement.bind(6, reading.measuredAt)
        statement.bind(7, reading.receivedAt)
        statement.bind(8, cumulative)
        statement.bind(9, usage)
        statement.bind(10, since)
        statement.bind(11, reading.messageId)
        statement.bind(12, reading.source)
        statement.bind(13, reading.origin)
        statement.bind(14, reading.enteredBy)
        statement.bind(15, reading.note)
        statement.bind(16, reading.photoRef)
    }

    /// Moves every recent reading into `meter_readings`, inside the caller's transaction; returns whether there was any.
    ///
    /// `bumpGeneration` tells the ingestion writer that what it keeps about the recent tables is stale; the writer
    /// itself passes false and forgets it on its own.
    @discardableResult
    public static func settleAll(_ db: any SQLDatabase, bumpGeneration: Bool = true) async throws -> Bool {
        let found = try await db.raw(
            """
            SELECT 1 AS one FROM recent_readings_0 UNION ALL SELECT 1 AS one FROM recent_readings_1 LIMIT 1
            """
        ).first()
        guard found != nil else { return false }
        for number in 0...1 {
            let move = """
                INSERT INTO meter_readings (\(Schema.readingColumns))
                SELECT \(Schema.readingColumns("r.")) FROM \(Self.table(number)) r, recent_state s
                WHERE s.id = 1 AND (s.active = \(number) OR r.device_id >= s.bound)
                ORDER BY r.device_id, r.register, r.measured_at
                """
            try await db.raw(SQLQueryString(move)).run()
            let empty = "DELETE FROM \(Self.table(number))"
            try await db.raw(SQLQueryString(empty)).run()
        }
        try await db.raw("UPDATE recent_state SET bound = NULL WHERE id = 1").run()
        if bumpGeneration { try await IngestGeneration.bump(db) }
        return true
    }

    /// The table taking new rows, as stored.
    static func activeTable(_ db: any SQLDatabase) async throws -> Int {
        try await db.raw("SELECT active FROM recent_state WHERE id = 1").first()?.decode(column: "active", as: Int.self) ?? 0
    }
}

/// Where the raw path appended a reading to a recent table, with what orders it for the move.
struct RecentRow: Sendable {
    var rowid: Int64
    var device: DeviceKey
    var register: String
    var measuredAt: Int64

    /// The positions of `rows` in `meter_readings` order: device, then register, then time, with device ids compared as
    /// bytes (as SQLite compares the move's bound).
    ///
    /// The distinct devices are ranked once (thousands of string comparisons), then positions are sorted by integers:
    /// moving the rows themselves and comparing strings in the sort took seconds for 200,000 rows.
    static func order(_ rows: [RecentRow]) -> [Int32] {
        var devices = Distinct<DeviceKey>()
        var registers = Distinct<String>()
        var keys: [(device: Int32, register: Int32, at: Int64, row: Int32)] = []
        keys.reserveCapacity(rows.count)
        for (index, row) in rows.enumerated() {
            keys.append(
                (
                    devices.number(row.device, text: row.device.id), registers.number(row.register, text: row.register), row.measuredAt,
                    Int32(index)
                ))
        }
        let deviceRank = ranks(devices.texts)
        let registerRank = ranks(registers.texts)
        keys.sort { a, b in
            let (da, db) = (deviceRank[Int(a.device)], deviceRank[Int(b.device)])
            if da != db { return da < db }
            let (ra, rb) = (registerRank[Int(a.register)], registerRank[Int(b.register)])
            if ra != rb { return ra < rb }
            return a.at < b.at
        }
        return keys.map(\.row)
    }

    /// Numbers distinct values in order of first appearance, keeping each one's text for ranking.
    private struct Distinct<Value: Hashable> {
        var numbers: [Value: Int32] = [:]
        var texts: [String] = []

        mutating func number(_ value: Value, text: @autoclosure () -> String) -> Int32 {
            if let known = numbers[value] { return known }
            let number = Int32(texts.count)
            numbers[value] = number
            texts.append(text())
            return number
        }
    }

    /// Each string's position in byte order.
    private static func ranks(_ strings: [String]) -> [Int32] {
        let order = strings.indices.sorted { strings[$0].utf8.lexicographicallyPrecedes(strings[$1].utf8) }
        var rank = [Int32](repeating: 0, count: strings.count)
        for (position, index) in order.enumerated() { rank[index] = Int32(position) }
        return rank
    }
}

/// What the ingestion writer keeps about the two recent tables (part of ``IngestMemory``, so trusted only while it is).
struct RecentTables {
    /// The table taking new rows.
    var active = 0
    /// The rows in the active table, in the order written.
    var rows: [RecentRow] = []
    /// When the first of `rows` was written (epoch milliseconds).
    var startedAt: Int64?
    /// The other table, while its rows are being moved.
    var move: Move?
    /// Rows appended since the move's last step.
    var debt = 0

    /// The smallest move step (four times the appended rows that call for one, or a quarter of the limit in small
    /// setups). A step's cost is mostly pages (its devices' pages, and the id index's pages among the move's ids), so a
    /// step of a few hundred rows writes about a page per row, while one of 4,096 writes a fifth of that.
    static let stepRows = 2_048
    /// Batches this large take a due step inside their own transaction.
    static let stepInBatch = 512

    /// The rows the move's next step should take, if one is due: when a quarter of ``stepRows`` readings came in since
    /// the last, one and a half times their number (copying at that pace and deleting four times faster ends a move
    /// by the time the active table is five-sixths full, and leftovers of a burst are moved without hurry), at least
    /// ``stepRows``.
    func dueStep(limit: Int, adding: Int = 0) -> Int? {
        guard let move, move.sorted else { return nil }
        let smallest = min(Self.stepRows, max(limit / 4, 1))
        let debt = debt + adding
        guard debt >= smallest / 4 else { return nil }
        return max(debt + debt / 2, smallest)
    }

    /// A table's rows on their way into `meter_readings`: sorted once (off the writer's thread), then moved a range of
    /// devices per transaction from `cursor` on.
    struct Move {
        var table: Int
        var rows: [RecentRow]
        /// Positions of `rows` in device order, once sorted.
        var order: [Int32]?
        var sorted: Bool { order != nil }
        /// How many of `order` are copied.
        var cursor = 0
        /// Rows deleted from the table once all were copied.
        var deleted = 0
        /// Identifies this move to the task that sorts it.
        var serial: Int
    }

    var isEmpty: Bool { rows.isEmpty && move == nil }

    /// Whether the active table should be handed over for moving now: it is full, or its oldest row has waited long.
    func wantsSwitch(adding: Int, limit: Int, now: Int64) -> Bool {
        guard move == nil, rows.count + adding > 0 else { return false }
        if rows.count + adding >= limit { return true }
        return (startedAt ?? now) <= now - RecentTables.maximumAgeMilliseconds
    }

    /// The longest a recent row waits before its table is moved, under a steady trickle that never leaves the writer idle.
    static let maximumAgeMilliseconds: Int64 = 10_000

    /// Numbers moves for the whole process, so that a sort finished for a forgotten move is never taken for a new one.
    static let serials = Atomic<Int>(0)
}

extension RecentReadings {
    /// Rowids per copying statement.
    static let copyGroup = 512

    static func copySQL(from number: Int) -> String {
        let parameters = (1...copyGroup).map { "?\($0)" }.joined(separator: ", ")
        return
            "INSERT INTO meter_readings (\(Schema.readingColumns)) SELECT \(Schema.readingColumns) FROM \(table(number)) WHERE rowid IN (\(parameters))"
    }

    /// One step of a move on the raw connection, in its own transaction (the idle writer; a busy writer takes its steps
    /// inside its batches' transactions, see ``writeMoveStep(_:move:minimumRows:)``).
    ///
    /// Returns false, having written nothing, when the kept memory is no longer valid (someone else wrote).
    static func moveStep(_ raw: any FastConnection, memory: IngestMemory, minimumRows: Int) throws -> Bool {
        guard let move = memory.recent.move, move.sorted else { return true }
        try raw.enforceForeignKeys(false)
        return try writeIfCurrent(raw, memory: memory) {
            try writeMoveStep(raw, move: move, minimumRows: minimumRows)
        } then: { after in
            memory.recent.move = after
            memory.recent.debt = 0
        }
    }

    /// Runs `write` in a transaction of its own if the kept memory is still current (the generation is the one it last
    /// saw: nobody else wrote), and `apply` after the commit; false, having written nothing, otherwise.
    private static func writeIfCurrent<Result>(
        _ raw: any FastConnection, memory: IngestMemory, _ write: () throws -> Result,
        then apply: (Result) -> Void
    ) throws -> Bool {
        try raw.begin()
        var committed = false
        defer { if !committed { raw.rollback() } }
        guard try IngestGeneration.currentFast(raw) == memory.generation else { return false }
        let result = try write()
        try raw.commit()
        committed = true
        apply(result)
        return true
    }

    /// Writes the next step of `move` into the open transaction and returns the move as it will be once that commits
    /// (nil: done). While rows remain, it copies the next range of whole devices (at least `minimumRows` rows) into
    /// `meter_readings` and raises the bound past them (after the last, the bound hides the whole table); then it
    /// deletes the moved table's rows in the order they were written, four times `minimumRows` at a time, which costs
    /// a few pages per step where emptying 200,000 rows at once held the writer for 0.1 s.
    ///
    /// Foreign keys are not probed here (see ``ReadingRawPath``): every row was accepted against a device the directory
    /// resolved, and devices are never deleted.
    static func writeMoveStep(_ raw: any FastConnection, move: RecentTables.Move, minimumRows: Int) throws -> RecentTables.Move? {
        var move = move
        let rows = move.rows
        guard let order = move.order else { return move }
        func row(_ position: Int) -> RecentRow { rows[Int(order[position])] }
        if move.cursor < rows.count {
            var end = min(move.cursor + max(minimumRows, 1), rows.count)
            while end < rows.count, row(end).device == row(end - 1).device { end += 1 }
            // SQLite copies the step's rows itself, 512 rowids per statement (no values pass through Swift, and the
            // statement is prepared once; a short last group is padded with NULL, which matches nothing). The order within
            // a step does not matter: the pages it writes are its devices' pages.
            let copy = try raw.prepared(copySQL(from: move.table))
            var position = move.cursor
            while position < end {
                copy.reset()
                for parameter in 0..<copyGroup {
                    if position + parameter < end {
                        copy.bind(Int32(parameter + 1), row(position + parameter).rowid)
                    } else {
                        copy.bind(Int32(parameter + 1), nil as Int64?)
                    }
                }
                try copy.run()
                position += copyGroup
            }
            copy.reset()
            let bound = try raw.prepared("UPDATE recent_state SET bound = ?1 WHERE id = 1")
            bound.bind(1, end < rows.count ? row(end).device.id : nil)
            try bound.run()
            bound.reset()
            move.cursor = end
            return move
        }
        let count = 4 * max(minimumRows, 64)
        let delete = try raw.prepared(
            """
            DELETE FROM \(table(move.table)) WHERE rowid IN (SELECT rowid FROM \(table(move.table)) ORDER BY rowid LIMIT ?1)
            """)
        delete.bind(1, Int64(count))
        try delete.run()
        delete.reset()
        move.deleted += count
        return move.deleted >= rows.count ? nil : move
    }

    /// Hands the active table over for moving (idle writer): its own small transaction.
    static func switchTables(_ raw: any FastConnection, memory: IngestMemory) throws -> Bool {
        guard memory.recent.move == nil, !memory.recent.rows.isEmpty else { return true }
        return try writeIfCurrent(raw, memory: memory) {
            try writeSwitch(raw, to: 1 - memory.recent.active)
        } then: { _ in
            memory.recent.switched()
        }
    }

    /// Makes `table` the active one and shows all of the other (the move starts below every device id).
    static func writeSwitch(_ raw: any FastConnection, to table: Int) throws {
        let update = try raw.prepared("UPDATE recent_state SET active = ?1, bound = '' WHERE id = 1")
        update.bind(1, Int64(table))
        try update.run()
        update.reset()
    }
}

extension RecentTables {
    /// After the switch committed: the active rows become the move, the other table takes new rows.
    mutating func switched() {
        move = Move(table: active, rows: rows, serial: Self.serials.add(1, ordering: .relaxed).newValue)
        active = 1 - active
        rows = []
        startedAt = nil
    }
}
