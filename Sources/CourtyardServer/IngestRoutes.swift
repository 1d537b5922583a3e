import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOFoundationEssentialsCompat

/// Readings in (device tokens, staff, signed webhooks), the review queue, manual entry, meter replacements,
/// usage per hour/day, integrations and device presence.
enum IngestRoutes {
    /// The answer to a batch, written by hand: at 5,000 items JSONEncoder's generic path was a tenth of the request's time.
    static func response(_ result: BatchResult) -> Response {
        var out: [UInt8] = []
        out.reserveCapacity(64 + result.items.count * 96)
        func append(_ text: String) { out.append(contentsOf: text.utf8) }
        func string(_ text: String) {
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): append("\\\"")
                case UInt8(ascii: "\\"): append("\\\\")
                case 0..<0x20:
                    let digits = Array("0123456789abcdef".utf8)
                    append("\\u00")
                    out.append(digits[Int(byte >> 4)])
                    out.append(digits[Int(byte & 0x0F)])
                default: out.append(byte)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        append("{\"accepted\":\(result.accepted),\"duplicate\":\(result.duplicate),\"held_for_review\":\(result.heldForReview),\"items\":[")
        for (offset, item) in result.items.enumerated() {
            if offset > 0 { out.append(UInt8(ascii: ",")) }
            append("{")
            for (name, value) in [("code", item.code), ("field", item.field), ("held_id", item.heldId), ("message", item.message)] {
                if let value { append("\"\(name)\":"); string(value); append(",") }
            }
            append("\"index\":\(item.index),")
            if let id = item.readingId { append("\"reading_id\":"); string(id); append(",") }
            append("\"status\":")
            string(item.status)
            if let usage = item.usage { append(",\"usage\":"); string(usage) }
            append("}")
        }
        append("],\"rejected\":\(result.rejected)}")
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: out)))
    }

    struct BatchResult: Codable, Sendable {
        var accepted: Int
        var duplicate: Int
        var heldForReview: Int
        var rejected: Int
        var items: [Ingestor.ItemResult]

        init(_ items: [Ingestor.ItemResult]) {
            self.items = items
            accepted = items.count { $0.status == "accepted" }
            duplicate = items.count { $0.status == "duplicate" }
            heldForReview = items.count { $0.status == "held_for_review" }
            rejected = items.count { $0.status == "rejected" }
        }
    }

    typealias ReadingPage = Page<ReadingView>

    struct ManualReading: Codable, Sendable {
        var deviceId: String
        var register: String?
        var reading: Quantity?
        var usage: Quantity?
        var measuredAt: String
        var reason: String
        var photoRef: String?
    }

    struct Decision: Codable, Sendable {
        var note: String
        /// For an approval: the corrected value (cumulative reading or interval usage), when the sent one was wrong.
        var reading: Quantity?
    }

    struct DecisionResult: Codable, Sendable {
        var held: HeldReading
        var reading: Ingestor.ItemResult?
    }

    typealias HeldPage = Page<HeldReading>

    struct ReplacementInput: Codable, Sendable {
        var deviceId: String
        var register: String?
        var replacedAt: Date
        var oldFinal: Quantity
        var newStart: Quantity
        var reason: String
    }

    typealias Replacement = MeterReplacements.Replacement

    struct UsageReport: Codable, Sendable {
        var deviceId: String
        var register: String
        var granularity: String
        var timeZone: String
        var total: String
        var buckets: [UsageSeries.Bucket]
    }

    struct IntegrationInput: Codable, Sendable { var name: String }
    struct IntegrationSecret: Codable, Sendable {
        var integration: Integration
        /// Shown only in this response.
        var secret: String
        var webhookUrl: String
    }
    typealias IntegrationList = Page<Integration>

    typealias PresencePage = Page<PresenceView>
    typealias Alert = DeviceAlert
    typealias AlertPage = Page<Alert>

    static func register(on api: DocumentedRouter, services: ServerServices) {
        registerReadings(on: api, services: services)
        registerReview(on: api, services: services)
        registerUsage(on: api, services: services)
        registerDevices(on: api, services: services)
    }

    // MARK: - Helpers

    /// A keyset cursor over (instant, id) for lists in time order: `"<epoch ms>_<id>"` of the previous page's last row.
    struct TimeCursor {
        var milliseconds: Int64
        var id: String

        init(_ text: String) throws {
            let parts = text.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, let milliseconds = Int64(parts[0]) else {
                throw Problem.invalid("cursor", code: "invalid_cursor", "use next_cursor from the previous page")
            }
            self.milliseconds = milliseconds
            self.id = String(parts[1])
        }

        static func text(_ instant: Date, _ id: String) -> String { "\(instant.epochMilliseconds)_\(id)" }

        /// Where the next page starts.
        var position: DeviceHistory.Position { .init(milliseconds: milliseconds, id: id) }
    }

    static func collect(_ request: Request, _ context: CourtyardRequestContext) async throws -> Data {
        do {
            return Data(buffer: try await request.body.collect(upTo: 8 * 1024 * 1024))
        } catch {
            throw Problem(.contentTooLarge, code: "body_too_large", title: "The request body is too large")
        }
    }

    static func parse(_ request: Request, _ context: CourtyardRequestContext) async throws -> [Result<ReadingSubmission, ReadingError>] {
        if context.device == nil { _ = try context.scope(for: .recordUsage) }
        return try parse(try await collect(request, context))
    }

    static func parse(_ body: Data) throws -> [Result<ReadingSubmission, ReadingError>] {
        do {
            return try ReadingParser.parse(body)
        } catch {
            switch error {
            case .malformedJSON(let detail): throw Problem.malformedJSON(detail)
            case .empty:
                throw Problem(
                    .badRequest, code: "empty_batch", title: "The batch holds no readings",
                    errors: [FieldIssue(field: "items", code: "empty_batch", message: "send at least one reading")])
            case .tooMany(let count):
                throw Problem(
                    .contentTooLarge, code: "batch_too_large", title: "Too many readings in one request",
                    detail: "\(count) readings; send at most \(ReadingParser.maximumBatch) per request",
                    errors: [FieldIssue(field: "items", code: "batch_too_large", message: "at most \(ReadingParser.maximumBatch)")])
            }
        }
    }

    static func requireNote(_ note: String, field: String = "note") throws {
        guard !note.trimmingCharacters(in: .whitespaces).isEmpty, note.count <= 500 else {
            throw Problem.invalid(field, code: "required", "\(field) (up to 500 characters) is required")
        }
    }

    static func instant(_ text: Substring?, _ field: String) throws -> Int64? {
        guard let text else { return nil }
        guard case .instant(let milliseconds) = ReadingParser.parseTime(String(text)) else {
            throw Problem.invalid(field, code: "invalid_time", "\(field) must be RFC 3339 with an offset, e.g. 2026-10-01T00:00:00+08:00")
        }
        return milliseconds
    }

    static func knownDevice(_ id: String, scope: TenantScope, services: ServerServices) async throws -> KnownDevice {
        try await services.database.read { db in try await DeviceDirectory.device(id, scope: scope, db: db) }
    }

    /// Devices with their presence; a device never heard from counts as offline.
    static func presence(_ request: Request, scope: TenantScope, services: ServerServices) async throws -> PresencePage {
        let query = request.uri.queryParameters
        let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [])
        let status = query["status"].map(String.init)
        guard status == nil || status == "online" || status == "offline" else {
            throw Problem.invalid("status", code: "invalid_value", "status is online or offline")
        }
        let rows = try await services.database.read { db in
            try await DeviceHistory(db, scope: scope).presence(
                status.flatMap(DeviceHistory.Presence.init(rawValue:)),
                community: query["community_id"].map(String.init), after: cursor, limit: limit)
        }
        let items = Array(rows.prefix(limit))
        return PresencePage(items: items, nextCursor: rows.count > limit ? items.last?.deviceId : nil)
    }
}

extension ReadingValue {
    var isNonNegative: Bool {
        switch self {
        case .cumulative(let value), .interval(let value): value >= 0
        }
    }
}
