import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A reading waiting for an engineer.
public struct HeldReading: Codable, Hashable, Sendable {
    public var id: String
    public var communityId: String
    public var deviceId: String
    public var register: String
    public var measuredAt: Date
    public var receivedAt: Date
    /// The cumulative reading or the interval usage as sent, decimal text.
    public var reading: String?
    public var usage: String?
    public var messageId: String?
    public var source: String
    /// `conflict`, `negative_delta` or `exceeds_daily_cap`.
    public var reason: String
    public var detail: String
    /// `pending`, `approved` or `rejected`.
    public var status: String
    public var decidedBy: String?
    public var decidedAt: Date?
    public var decisionNote: String?

    public init(
        id: String, communityId: String, deviceId: String, register: String, measuredAt: Date, receivedAt: Date, reading: String?,
        usage: String?, messageId: String?, source: String, reason: String, detail: String, status: String,
        decidedBy: String? = nil, decidedAt: Date? = nil, decisionNote: String? = nil
    ) {
        self.id = id; self.communityId = communityId; self.deviceId = deviceId; self.register = register
        self.measuredAt = measuredAt; self.receivedAt = receivedAt; self.reading = reading; self.usage = usage
        self.messageId = messageId; self.source = source; self.reason = reason; self.detail = detail; self.status = status
        self.decidedBy = decidedBy; self.decidedAt = decidedAt; self.decisionNote = decisionNote
    }
}

/// Why a review decision could not be made.
public enum ReviewError: Error, Hashable, Sendable {
    case notFound
    case alreadyDecided(String)
    /// Approving would still leave the register falling: register a meter replacement or edit the value.
    case stillNegative(String)
}

/// The review queue: engineers approve (as sent or edited, with a reason) or reject held readings; every decision
/// is kept on the held row with who, when and why.
public struct ReviewQueue: Sendable {
    let db: any SQLDatabase
    let companyId: String
    let communities: Set<String>?
    /// What commits with accepted readings (prepaid deduction): approvals and replacements apply it too.
    let effects: (any ReadingEffects)?
    let engine: Database.Engine
    let tenant: TenantSQL

    public init(
        _ db: any SQLDatabase, companyId: String, communities: Set<String>? = nil, effects: (any ReadingEffects)? = nil,
        engine: Database.Engine = .sqlite
    ) {
        self.effects = effects
        self.engine = engine
        self.db = db
        self.companyId = companyId
        self.communities = communities
        tenant = TenantSQL(db, scope: TenantScope(companyId: companyId))
    }

    static let columns = """
        id, community_id, device_id, register, measured_at, received_at, reading_milli, interval_usage_milli, message_id, source, \
        reason, detail, status, decided_by, decided_at, decision_note
        """

    func held(_ row: any SQLRow) throws -> HeldReading {
        let r = RowReader(row, table: "held_readings")
        func instant(_ column: String) throws -> Date? {
            try r.optionalInt64(column).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        }
        return HeldReading(
            id: try r.string("id"), communityId: try r.string("community_id"), deviceId: try r.string("device_id"),
            register: try r.string("register"), measuredAt: try instant("measured_at")!, receivedAt: try instant("received_at")!,
            reading: try r.optionalInt64("reading_milli").map { FixedPoint.format($0, scale: 3) },
            usage: try r.optionalInt64("interval_usage_milli").map { FixedPoint.format($0, scale: 3) },
            messageId: try r.optionalString("message_id"), source: try r.string("source"), reason: try r.string("reason"),
            detail: try r.string("detail"), status: try r.string("status"), decidedBy: try r.optionalString("decided_by"),
            decidedAt: try instant("decided_at"), decisionNote: try r.optionalString("decision_note"))
    }

    public func list(status: String?, deviceId: String?, after cursor: String?, limit: Int) async throws -> (items: [HeldReading], next: String?) {
        var conditions: [SQLQueryString] = ["1 = 1"]
        if let status { conditions.append("status = \(bind: status)") }
        if let deviceId { conditions.append("device_id = \(bind: deviceId)") }
        if let communities { conditions.append(communities.isEmpty ? "1 = 0" : "community_id IN (\(binds: communities.sorted()))") }
        if let cursor { conditions.append("id > \(bind: cursor)") }
        let rows = try await tenant.select(
            "\(unsafeRaw: Self.columns)", from: "held_readings", where: conditions.joined(separator: " AND "),
            then: "ORDER BY id LIMIT \(literal: limit + 1)"
        ).all()
        let items = try rows.prefix(limit).map(held)
        return (items, rows.count > limit ? items.last?.id : nil)
    }

    public func get(_ id: String) async throws -> HeldReading? {
        guard let row = try await tenant.select("\(unsafeRaw: Self.columns)", from: "held_readings", where: "id = \(bind: id)").first() else {
            return nil
        }
        let item = try held(row)
        if let communities, !communities.contains(item.communityId) { return nil }
        return item
    }

    /// Rejects a held reading: it is never billed.
    public func reject(_ id: String, by user: String, note: String, now: Date) async throws -> HeldReading {
        let item = try await pending(id)
        try await decide(id, status: "rejected", by: user, note: note, now: now)
        var decided = item
        decided.status = "rejected"
        decided.decidedBy = user
        decided.decidedAt = now
        decided.decisionNote = note
        return decided
    }

    /// Approves a held reading, as sent or with `editedValue` (milli-units); a conflict replaces the stored reading.
    ///
    /// Returns the stored reading's id and the usage it adds.
    public func approve(
        _ id: String, by user: String, note: String, editedValue: Int64?, device: KnownDevice,
        now: Date
    ) async throws -> (held: HeldReading, outcome: ReadingOutcome) {
        let item = try await pending(id)
        // The decision works on `meter_readings` alone: recent readings move there first.
        try await RecentReadings.settleAll(db)
        let row = try await db.raw("SELECT reading_milli, interval_usage_milli, measured_at, received_at FROM held_readings WHERE id = \(bind: id)")
            .first()!
        let reader = RowReader(row, table: "held_readings")
        let cumulative = try reader.optionalInt64("reading_milli")
        let interval = try reader.optionalInt64("interval_usage_milli") ?? 0
        let value: ReadingValue = if let cumulative { .cumulative(editedValue ?? cumulative) } else { .interval(editedValue ?? interval) }
        let measuredAt = try reader.int64("measured_at")
        var effectReadings: [AcceptedReading] = []
        if item.reason == "conflict" {
            // The reading that makes way is given back in full (re-rated at zero usage) if it was charged.
            let atThatInstant: SQLQueryString = """
                device_id = \(bind: device.id) AND register = \(bind: item.register) AND measured_at = \(bind: measuredAt)
                """
            if let replaced = try await tenant.select("id, usage_milli", from: "meter_readings", where: atThatInstant).first(),
                let usage = try RowReader(replaced, table: "meter_readings").optionalInt64("usage_milli"), usage > 0
            {
                effectReadings.append(
                    AcceptedReading(
                        readingId: try RowReader(replaced, table: "meter_readings").string("id"), device: device,
                        register: item.register, measuredAt: measuredAt, usage: 0, revisedFrom: usage))
            }
            // The engineer says the held value is the right one: the stored reading at that instant makes way, on the record.
            try await tenant.insert(
                into: "held_readings",
                columns: [
                    "id", "community_id", "device_id", "register", "measured_at", "received_at", "reading_milli", "interval_usage_milli",
                    "message_id",
                    "source", "reason", "detail", "status", "decided_by", "decided_at", "decision_note",
                ],
                selecting: """
                    \(bind: Identifier.uuidV7(at: now)), community_id, device_id, register, measured_at, received_at, reading_milli,
                    CASE WHEN reading_milli IS NULL THEN usage_milli ELSE NULL END, message_id, source, 'superseded',
                    \(bind: "replaced by held reading \(id)"), 'rejected', \(bind: user), \(bind: now.epochMilliseconds), \(bind: note)
                    """, from: "meter_readings", where: atThatInstant
            ).run()
            try await tenant.delete(from: "meter_readings", where: atThatInstant).run()
        }
        var store = ReadingStore(db, companyId: companyId, now: now)
        let reading = ResolvedReading(
            device: device, register: item.register, value: value, measuredAt: measuredAt,
            receivedAt: try reader.int64("received_at"), messageId: item.messageId, source: item.source,
            origin: editedValue == nil ? "review" : "edited", enteredBy: user, note: note)
        let outcome = try await store.applyApproved(reading)
        if let effects {
            if case .accepted(let readingId, let usage?) = outcome, usage > 0 {
                effectReadings.append(
                    AcceptedReading(
                        readingId: readingId, device: device, register: item.register, measuredAt: measuredAt,
                        usage: usage))
            }
            for revision in store.revisions {
                effectReadings.append(
                    AcceptedReading(
                        readingId: revision.readingId, device: device, register: revision.register,
                        measuredAt: revision.measuredAt, usage: revision.newUsage, revisedFrom: revision.oldUsage ?? 0))
            }
            if !effectReadings.isEmpty, try await effects.devices(db).contains(device.id) {
                try await effects.apply(db, engine: engine, companyId: companyId, readings: effectReadings, now: now)
            }
        }
        switch outcome {
        case .accepted, .duplicate:
            try await decide(id, status: "approved", by: user, note: note, now: now)
        case .held(_, _, let detail):
            throw ReviewError.stillNegative(detail)
        case .rejected(let error):
            throw ReviewError.stillNegative(error.message)
        }
        var decided = item
        decided.status = "approved"
        decided.decidedBy = user
        decided.decidedAt = now
        decided.decisionNote = note
        return (decided, outcome)
    }

    /// After a meter replacement is recorded: re-derives the usage of the first accepted reading across it, and
    /// approves the register's readings held as `negative_delta` since the swap that the replacement now explains.
    ///
    /// - Returns: the ids of the held readings now accepted.
    public func applyReplacement(
        device: KnownDevice, register: String, replacedAt: Int64, by user: String, note: String,
        now: Date
    ) async throws -> [String] {
        try await RecentReadings.settleAll(db)
        if let row = try await tenant.select(
            "id, since, reading_milli, measured_at, usage_milli", from: "meter_readings",
            where: """
                device_id = \(bind: device.id) AND register = \(bind: register) AND measured_at >= \(bind: replacedAt) AND since < \(bind: replacedAt) \
                AND reading_milli IS NOT NULL
                """
        ).first() {
            let reader = RowReader(row, table: "meter_readings")
            var store = ReadingStore(db, companyId: companyId, now: now)
            let since = try reader.int64("since")
            if let previous = try await tenant.select(
                "reading_milli", from: "meter_readings",
                where: """
                    device_id = \(bind: device.id) AND register = \(bind: register) AND measured_at = \(bind: since)
                    """
            ).first()?.decode(column: "reading_milli", as: Int64.self),
                let replacement = try await store.replacement(
                    device: device.id, register: register, after: since, upTo: try reader.int64("measured_at")),
                case .usage(let usage, _, _) = ReadingRules.delta(
                    from: .init(measuredAt: since, reading: previous),
                    to: .init(measuredAt: try reader.int64("measured_at"), reading: try reader.int64("reading_milli")),
                    modulus: device.registerModulus, replacement: replacement)
            {
                try await tenant.update("meter_readings", set: "usage_milli = \(bind: usage)", where: "id = \(bind: try reader.string("id"))").run()
                if let effects, try await effects.devices(db).contains(device.id) {
                    try await effects.apply(
                        db, engine: engine, companyId: companyId,
                        readings: [
                            AcceptedReading(
                                readingId: try reader.string("id"), device: device, register: register,
                                measuredAt: try reader.int64("measured_at"), usage: usage,
                                revisedFrom: try reader.optionalInt64("usage_milli") ?? 0)
                        ], now: now)
                }
            }
            store.newHead = nil
        }
        let held = try await tenant.select(
            "id", from: "held_readings",
            where: """
                device_id = \(bind: device.id) AND register = \(bind: register) AND measured_at >= \(bind: replacedAt) AND status = 'pending' \
                AND reason = 'negative_delta'
                """, then: "ORDER BY measured_at"
        ).all().map { try $0.decode(column: "id", as: String.self) }
        var approved: [String] = []
        for id in held {
            do {
                _ = try await approve(id, by: user, note: note, editedValue: nil, device: device, now: now)
                approved.append(id)
            } catch ReviewError.stillNegative {
                continue
            }
        }
        return approved
    }

    func pending(_ id: String) async throws -> HeldReading {
        guard let item = try await get(id) else { throw ReviewError.notFound }
        guard item.status == "pending" else { throw ReviewError.alreadyDecided(item.status) }
        return item
    }

    func decide(_ id: String, status: String, by user: String, note: String, now: Date) async throws {
        try await IngestGeneration.bump(db)
        if let item = try await get(id) {
            try await ScopedStore(db, scope: TenantScope(companyId: companyId)).insert(
                AuditEntry(
                    id: Identifier.uuidV7(at: now), companyId: companyId, communityId: item.communityId, actor: user,
                    action: status == "approved" ? "held_reading_approved" : "held_reading_rejected", subjectType: "held_reading",
                    subjectId: id, reason: note, beforeState: "\(item.reason): \(item.detail)", afterState: status, createdAt: now))
        }
        try await tenant.update(
            "held_readings",
            set: """
                status = \(bind: status), decided_by = \(bind: user), decided_at = \(bind: now.epochMilliseconds), decision_note = \(bind: note)
                """, where: "id = \(bind: id) AND status = 'pending'"
        ).run()
    }
}

extension ReadingStore {
    /// Applies an approved reading: caps do not apply, and a hold is not written again (the caller reports it).
    mutating func applyApproved(_ reading: ResolvedReading) async throws -> ReadingOutcome {
        var probe = self
        probe.holdsDisabled = true
        let outcome = try await probe.apply(reading, checkCaps: false)
        ids = probe.ids
        return outcome
    }
}

/// The review queue's figure on the staff console's dashboard.
public struct ReviewFigures: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// Readings held for review and not yet decided.
    public func pending() async throws -> Int64 {
        try await tenant.select(
            "COUNT(*) AS n", from: "held_readings", where: "status = 'pending' AND \(tenant.inScopeCommunities())"
        ).first()?.decode(column: "n", as: Int64.self) ?? 0
    }
}
