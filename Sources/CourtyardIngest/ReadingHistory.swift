import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A device's reading as the monitoring screens and the API show it.
public struct ReadingView: Codable, Sendable {
    public var id: String
    public var deviceId: String
    public var register: String
    public var measuredAt: Date
    public var receivedAt: Date
    public var reading: String?
    public var usage: String?
    public var since: Date?
    public var messageId: String?
    public var source: String
    public var origin: String
    public var enteredBy: String?
    public var note: String?
    public var photoRef: String?

    public init(
        id: String, deviceId: String, register: String, measuredAt: Date, receivedAt: Date, reading: String?, usage: String?, since: Date?,
        messageId: String?, source: String, origin: String, enteredBy: String? = nil, note: String? = nil, photoRef: String? = nil
    ) {
        self.id = id
        self.deviceId = deviceId
        self.register = register
        self.measuredAt = measuredAt
        self.receivedAt = receivedAt
        self.reading = reading
        self.usage = usage
        self.since = since
        self.messageId = messageId
        self.source = source
        self.origin = origin
        self.enteredBy = enteredBy
        self.note = note
        self.photoRef = photoRef
    }
}

extension DeviceHistory {
    /// Accepted readings of a device (of one register if given) measured in [from, to), in measurement order.
    public func readings(deviceId: String, register: String?, from: Int64?, to: Int64?, after: Position?, limit: Int) async throws -> [ReadingView] {
        _ = try await tenant.store.get(Device.self, id: deviceId)
        var conditions: [SQLQueryString] = ["device_id = \(bind: deviceId)"]
        if let register { conditions.append("register = \(bind: register)") }
        if let from { conditions.append("measured_at >= \(bind: from)") }
        if let to { conditions.append("measured_at < \(bind: to)") }
        if let after { conditions.append(after.after("measured_at", descending: false)) }
        let rows = try await tenant.select(
            """
            id, device_id, register, measured_at, received_at, reading_milli, usage_milli, since, message_id, source, origin, entered_by, note, photo_ref
            """, from: Schema.readingsView, where: conditions.joined(separator: " AND "),
            then: "ORDER BY measured_at, id LIMIT \(literal: limit + 1)"
        ).all()
        return try rows.map(Self.reading)
    }

    static func reading(_ row: any SQLRow) throws -> ReadingView {
        let r = RowReader(row, table: "meter_readings")
        return ReadingView(
            id: try r.string("id"), deviceId: try r.string("device_id"), register: try r.string("register"),
            measuredAt: date(try r.int64("measured_at")), receivedAt: date(try r.int64("received_at")),
            reading: try r.optionalInt64("reading_milli").map { FixedPoint.format($0, scale: 3) },
            usage: try r.optionalInt64("usage_milli").map { FixedPoint.format($0, scale: 3) }, since: try r.optionalInt64("since").map(date),
            messageId: try r.optionalString("message_id"), source: try r.string("source"), origin: try r.string("origin"),
            enteredBy: try r.optionalString("entered_by"), note: try r.optionalString("note"), photoRef: try r.optionalString("photo_ref"))
    }
}
