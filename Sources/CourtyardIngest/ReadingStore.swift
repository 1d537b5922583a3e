import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A reading matched to its device, with its instant resolved: ready to be stored.
public struct ResolvedReading: Hashable, Sendable {
    public let device: KnownDevice
    public let register: String
    /// The register's key in the ingestion writer's memory, hashed here rather than on the writer's thread.
    let key: IngestMemory.Key
    public var value: ReadingValue
    public var measuredAt: Int64
    public var receivedAt: Int64
    public var messageId: String?
    /// `http`, `webhook:<integration>`, `mqtt`, `manual`, …
    public var source: String
    /// `device`, `manual` (typed in by staff) or `review` (approved or edited from the review queue).
    public var origin: String
    /// Who typed it in or approved it, and why (manual entries and review decisions).
    public var enteredBy: String?
    public var note: String?
    public var photoRef: String?

    public init(
        device: KnownDevice, register: String, value: ReadingValue, measuredAt: Int64, receivedAt: Int64,
        messageId: String?, source: String, origin: String = "device", enteredBy: String? = nil, note: String? = nil,
        photoRef: String? = nil
    ) {
        self.enteredBy = enteredBy
        self.note = note
        self.photoRef = photoRef
        self.device = device
        self.register = register
        self.key = IngestMemory.Key(device: device.key, register: register)
        self.value = value
        self.measuredAt = measuredAt
        self.receivedAt = receivedAt
        self.messageId = messageId
        self.source = source
        self.origin = origin
    }
}

/// What became of one reading.
public enum ReadingOutcome: Hashable, Sendable {
    /// Stored; `usage` is the usage it adds (nil for the first reading of a register).
    case accepted(id: String, usage: Int64?)
    /// The same reading was stored before; nothing changed.
    case duplicate(id: String)
    /// Kept for an engineer's review (`conflict`, `negative_delta`, `exceeds_daily_cap`); not billed until approved.
    case held(id: String, reason: String, detail: String)
    /// Refused outright (a message id reused for different content).
    case rejected(ReadingError)

    public var status: String {
        switch self {
        case .accepted: "accepted"
        case .duplicate: "duplicate"
        case .held: "held_for_review"
        case .rejected: "rejected"
        }
    }
}

/// Stores readings inside a caller's transaction: dedup, usage derivation against both neighbours, plausibility,
/// review holds and presence. Every statement names the company, so one tenant never reads another's rows.
public struct ReadingStore: Sendable {
    public let db: any SQLDatabase
    public let companyId: String
    public var ids: IdentifierSequence
    /// Set while applying an approved reading: what would be held is reported, not written as a new hold.
    var holdsDisabled = false
    /// The newest reading of its register that the last ``apply(_:checkCaps:)`` stored, if it stored one (for the writer's memory).
    public internal(set) var newHead: (deviceId: String, register: String, head: ReadingRules.Point)?
    /// Readings this store applied one by one.
    public internal(set) var carefulCount = 0
    /// Later readings whose usage a late reading cut (their interval now starts at the late reading), in order.
    public internal(set) var revisions: [Revision] = []
    var tenant: TenantSQL { TenantSQL(db, scope: TenantScope(companyId: companyId)) }

    /// A stored reading whose usage changed because a late reading arrived inside its interval.
    public struct Revision: Sendable, Hashable {
        public var readingId: String
        public var device: KnownDevice
        public var register: String
        public var measuredAt: Int64
        public var oldUsage: Int64?
        public var newUsage: Int64
    }

    public init(_ db: any SQLDatabase, companyId: String, now: Date) {
        self.db = db
        self.companyId = companyId
        self.ids = IdentifierSequence(at: now)
    }

    struct Stored {
        var id: String
        var measuredAt: Int64
        var register: String
        var reading: Int64?
        var usage: Int64?
    }

    private func stored(_ rows: [any SQLRow]) throws -> [Stored] {
        try rows.map { row in
            let reader = RowReader(row, table: "meter_readings")
            return Stored(
                id: try reader.string("id"), measuredAt: try reader.int64("measured_at"), register: try reader.string("register"),
                reading: try reader.optionalInt64("reading_milli"), usage: try reader.optionalInt64("usage_milli"))
        }
    }

    private static let columns = "id, measured_at, register, reading_milli, usage_milli"

    /// Applies one reading.
    ///
    /// - Parameter checkCaps: false when an engineer approved the reading from review (the cap is what held it).
    public mutating func apply(_ reading: ResolvedReading, checkCaps: Bool = true) async throws -> ReadingOutcome {
        newHead = nil
        carefulCount += 1
        let device = reading.device.id
        let value = reading.value.milliUnits
        let isCumulative = if case .cumulative = reading.value { true } else { false }
        func sameContent(_ row: Stored) -> Bool {
            row.register == reading.register && row.measuredAt == reading.measuredAt
                && (isCumulative ? row.reading == value : (row.reading == nil && row.usage == value))
        }
        // 1. A message id names one reading for ever.
        if let messageId = reading.messageId {
            let rows = try stored(
                try await tenant.select(
                    "\(unsafeRaw: Self.columns)", from: "meter_readings",
                    where: "device_id = \(bind: device) AND message_id = \(bind: messageId)"
                ).all())
            if let row = rows.first {
                return sameContent(row)
                    ? .duplicate(id: row.id)
                    : .rejected(
                        ReadingError(
                            "idempotency_conflict", field: "message_id",
                            "message \(messageId) was already stored with other content (reading \(row.id))"))
            }
        }
        // 2. A held reading sent again stays held, once (not for the approval of that very reading).
        if !holdsDisabled,
            let held = try await tenant.select(
                "id, reason, detail", from: "held_readings",
                where: """
                    device_id = \(bind: device) AND register = \(bind: reading.register) AND measured_at = \(bind: reading.measuredAt) \
                    AND status = 'pending' AND \(unsafeRaw: isCumulative ? "reading_milli" : "interval_usage_milli") = \(bind: value)
                    """
            ).first()
        {
            let reader = RowReader(held, table: "held_readings")
            return .held(id: try reader.string("id"), reason: try reader.string("reason"), detail: try reader.string("detail"))
        }
        // 3. The key (device, register, measured_at).
        let existing = try stored(
            try await tenant.select(
                "\(unsafeRaw: Self.columns)", from: "meter_readings",
                where: """
                    device_id = \(bind: device) AND register = \(bind: reading.register) AND measured_at = \(bind: reading.measuredAt)
                    """
            ).all())
        if let row = existing.first {
            if sameContent(row) { return .duplicate(id: row.id) }
            return try await hold(
                reading, reason: "conflict",
                detail: "reading \(row.id) at the same instant says \(FixedPoint.format(row.reading ?? row.usage ?? 0, scale: 3))")
        }
        guard isCumulative else {
            if checkCaps, let cap = ReadingRules.exceedsCap(usage: value, intervalMilliseconds: nil, kind: reading.device.kind) {
                return try await hold(
                    reading, reason: "exceeds_daily_cap",
                    detail: "usage \(FixedPoint.format(value, scale: 3)) is over the cap of \(FixedPoint.format(cap, scale: 3))")
            }
            let id = try await insert(reading, usage: value, since: nil)
            return .accepted(id: id, usage: value)
        }
        // 4. Usage against both neighbours: the reading before, and the one after (a late reading splits its interval).
        let previous = try stored(
            try await tenant.select(
                "\(unsafeRaw: Self.columns)", from: "meter_readings",
                where: """
                    device_id = \(bind: device) AND register = \(bind: reading.register) AND measured_at < \(bind: reading.measuredAt)
                    """, then: "ORDER BY measured_at DESC LIMIT 1"
            ).all()
        ).first
        let next = try stored(
            try await tenant.select(
                "\(unsafeRaw: Self.columns)", from: "meter_readings",
                where: """
                    device_id = \(bind: device) AND register = \(bind: reading.register) AND measured_at > \(bind: reading.measuredAt)
                    """, then: "ORDER BY measured_at ASC LIMIT 1"
            ).all()
        ).first
        let current = ReadingRules.Point(measuredAt: reading.measuredAt, reading: value)
        var usage: Int64?
        if let previous, let previousReading = previous.reading {
            let replacement = try await self.replacement(
                device: device, register: reading.register, after: previous.measuredAt,
                upTo: reading.measuredAt)
            switch ReadingRules.delta(
                from: .init(measuredAt: previous.measuredAt, reading: previousReading), to: current,
                modulus: reading.device.registerModulus, replacement: replacement)
            {
            case .negative(let fall):
                return try await hold(
                    reading, reason: "negative_delta",
                    detail: "the register fell by \(FixedPoint.format(fall == .min ? .max : -fall, scale: 3)) since reading \(previous.id)")
            case .usage(let delta, _, _):
                if checkCaps,
                    let cap = ReadingRules.exceedsCap(
                        usage: delta, intervalMilliseconds: reading.measuredAt - previous.measuredAt,
                        kind: reading.device.kind)
                {
                    return try await hold(
                        reading, reason: "exceeds_daily_cap",
                        detail:
                            "usage \(FixedPoint.format(delta, scale: 3)) since reading \(previous.id) is over the cap of \(FixedPoint.format(cap, scale: 3))"
                    )
                }
                // Only usage above a tenth of the cap is compared with the meter's own history: the check costs a query.
                let interval = reading.measuredAt - previous.measuredAt
                if checkCaps, let cap = ReadingRules.dailyCap(reading.device.kind),
                    delta * 86_400_000 / max(interval, 86_400_000) > cap / 10,
                    let p99 = try await recentDailyP99(device: device, register: reading.register, before: previous.measuredAt),
                    let limit = ReadingRules.exceedsRecent(usage: delta, intervalMilliseconds: interval, p99: p99)
                {
                    return try await hold(
                        reading, reason: "exceeds_recent_usage",
                        detail:
                            "usage \(FixedPoint.format(delta, scale: 3)) is over \(ReadingRules.recentMultiple) × this meter's recent daily p99 (\(FixedPoint.format(p99, scale: 3))): limit \(FixedPoint.format(limit, scale: 3))"
                    )
                }
                usage = delta
            }
        }
        var nextUsage: Int64?
        if let next, let nextReading = next.reading {
            let replacement = try await self.replacement(
                device: device, register: reading.register, after: reading.measuredAt,
                upTo: next.measuredAt)
            switch ReadingRules.delta(
                from: current, to: .init(measuredAt: next.measuredAt, reading: nextReading),
                modulus: reading.device.registerModulus, replacement: replacement)
            {
            case .negative:
                return try await hold(
                    reading, reason: "negative_delta",
                    detail: "the later reading \(next.id) is lower than this one")
            case .usage(let delta, _, _):
                nextUsage = delta
            }
        }
        let id = try await insert(reading, usage: usage, since: previous?.measuredAt)
        if next == nil { newHead = (device, reading.register, current) }
        if let next, let nextUsage {
            try await tenant.update(
                "meter_readings", set: "usage_milli = \(bind: nextUsage), since = \(bind: reading.measuredAt)",
                where: "id = \(bind: next.id)"
            ).run()
            revisions.append(
                Revision(
                    readingId: next.id, device: reading.device, register: reading.register, measuredAt: next.measuredAt,
                    oldUsage: next.usage, newUsage: nextUsage))
        }
        return .accepted(id: id, usage: usage)
    }

    /// Daily usage of the 30 days before `before` (UTC days), as the relative rule's history.
    func recentDailyP99(device: String, register: String, before: Int64) async throws -> Int64? {
        let rows = try await tenant.select(
            "measured_at, usage_milli", from: "meter_readings",
            where: """
                device_id = \(bind: device) AND register = \(bind: register) AND measured_at > \(bind: before - 30 * 86_400_000) \
                AND measured_at <= \(bind: before) AND usage_milli IS NOT NULL
                """
        ).all()
        var days: [Int64: Int64] = [:]
        for row in rows {
            let reader = RowReader(row, table: "meter_readings")
            days[try reader.int64("measured_at") / 86_400_000, default: 0] += try reader.int64("usage_milli")
        }
        return ReadingRules.dailyP99(Array(days.values))
    }

    func replacement(device: String, register: String, after: Int64, upTo: Int64) async throws -> ReadingRules.Replacement? {
        guard
            let row = try await tenant.select(
                "replaced_at, old_final_milli, new_start_milli", from: "meter_replacements",
                where: """
                    device_id = \(bind: device) AND register = \(bind: register) AND replaced_at > \(bind: after) AND replaced_at <= \(bind: upTo)
                    """, then: "ORDER BY replaced_at LIMIT 1"
            ).first()
        else { return nil }
        let reader = RowReader(row, table: "meter_replacements")
        return .init(
            replacedAt: try reader.int64("replaced_at"), oldFinal: try reader.int64("old_final_milli"),
            newStart: try reader.int64("new_start_milli"))
    }

    mutating func insert(_ reading: ResolvedReading, usage: Int64?, since: Int64?) async throws -> String {
        let id = ids.next()
        let cumulative: Int64? = if case .cumulative(let value) = reading.value { value } else { nil }
        try await tenant.insert(
            into: "meter_readings",
            columns: [
                "id", "community_id", "device_id", "register", "measured_at", "received_at", "reading_milli", "usage_milli", "since", "message_id",
                "source", "origin", "entered_by", "note", "photo_ref",
            ],
            values: [
                id, reading.device.communityId, reading.device.id, reading.register, reading.measuredAt, reading.receivedAt, cumulative, usage,
                since, reading.messageId, reading.source, reading.origin, reading.enteredBy, reading.note, reading.photoRef,
            ]
        ).run()
        return id
    }

    mutating func hold(_ reading: ResolvedReading, reason: String, detail: String) async throws -> ReadingOutcome {
        if holdsDisabled { return .rejected(ReadingError(reason, field: "reading", detail)) }
        let id = ids.next()
        let cumulative: Int64? = if case .cumulative(let value) = reading.value { value } else { nil }
        let interval: Int64? = if case .interval(let value) = reading.value { value } else { nil }
        try await tenant.insert(
            into: "held_readings",
            columns: [
                "id", "community_id", "device_id", "register", "measured_at", "received_at", "reading_milli", "interval_usage_milli", "message_id",
                "source", "reason", "detail", "status",
            ],
            values: [
                id, reading.device.communityId, reading.device.id, reading.register, reading.measuredAt, reading.receivedAt, cumulative, interval,
                reading.messageId, reading.source, reason, detail, "pending",
            ]
        ).run()
        return .held(id: id, reason: reason, detail: detail)
    }
}
