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
        let exampleItem = Ingestor.ItemResult(index: 0, status: "accepted", readingId: "0194f3a0-0000-7000-8000-0000000000c1", usage: "1.250")
        api.schema("ReadingBatch", example: [["device_key": "meter_0001", "register": "energy_total", "reading": "12345.67",
                                              "measured_at": "2026-10-01T00:00:00Z", "message_id": "m-1"]])
        api.schema("ReadingBatchResult", example: BatchResult([exampleItem]))
        let exampleView = ReadingView(id: "0194f3a0-0000-7000-8000-0000000000c1", deviceId: Example.device, register: "energy_total",
                                      measuredAt: Example.date, receivedAt: Example.date, reading: "12345.670", usage: "1.250",
                                      since: Example.date, messageId: "m-1", source: "http", origin: "device")
        api.schema("ReadingPage", example: ReadingPage(items: [exampleView], nextCursor: nil))
        api.schema("ManualReading", example: ManualReading(deviceId: Example.device, register: "volume_total", reading: Quantity(milliUnits: 1_234_500),
                                                           measuredAt: "2026-10-31T18:00:00+08:00", reason: "meter display read on site",
                                                           photoRef: "photos/2026/10/31/102.jpg"), required: ["device_id", "measured_at", "reason"])
        let exampleHeld = HeldReading(id: "0194f3a0-0000-7000-8000-0000000000d1", communityId: Example.community, deviceId: Example.device,
                                      register: "energy_total", measuredAt: Example.date, receivedAt: Example.date, reading: "99.000",
                                      usage: nil, messageId: nil, source: "http", reason: "negative_delta",
                                      detail: "the register fell by 12.000", status: "pending")
        api.schema("HeldReadingPage", example: HeldPage(items: [exampleHeld], nextCursor: nil))
        api.schema("ReviewDecision", example: Decision(note: "checked on site", reading: nil), required: ["note"])
        api.schema("ReviewResult", example: DecisionResult(held: exampleHeld, reading: exampleItem))
        let exampleReplacement = ReplacementInput(deviceId: Example.device, register: "energy_total", replacedAt: Example.date,
                                                  oldFinal: Quantity(milliUnits: 5_432_100), newStart: Quantity(milliUnits: 0), reason: "meter broken")
        api.schema("MeterReplacementInput", example: exampleReplacement, required: ["device_id", "replaced_at", "old_final", "new_start", "reason"])
        api.schema("MeterReplacement", example: Replacement(id: "0194f3a0-0000-7000-8000-0000000000e1", deviceId: Example.device,
                                                            register: "energy_total", replacedAt: Example.date, oldFinal: exampleReplacement.oldFinal,
                                                            newStart: exampleReplacement.newStart, reason: "meter broken", createdBy: "0194f3a0-0000-7000-8000-000000000002"),
                   items: ["approved_held_readings": .string])
        let exampleBucket = UsageSeries.Bucket(start: "2026-10-01", startsAt: Example.date, usage: "12.500", estimated: false, milli: 12_500)
        api.schema("UsageReport", example: UsageReport(deviceId: Example.device, register: "energy_total", granularity: "day",
                                                       timeZone: "Asia/Shanghai", total: "0.000", buckets: [exampleBucket]))
        let exampleIntegration = Integration(id: "0194f3a0-0000-7000-8000-0000000000f1", companyId: Example.company, name: "ctwing",
                                             hasPreviousSecret: false, rotatedAt: nil, createdAt: Example.date)
        api.schema("IntegrationInput", example: IntegrationInput(name: "ctwing"), required: ["name"])
        api.schema("IntegrationSecret", example: IntegrationSecret(integration: exampleIntegration, secret: "…",
                                                                   webhookUrl: "/api/v1/ingest/\(exampleIntegration.id)"))
        api.schema("IntegrationList", example: IntegrationList(items: [exampleIntegration]))
        api.schema("PresencePage", example: PresencePage(items: [PresenceView(deviceId: Example.device, deviceKey: "water_meter_102",
                                                                             communityId: Example.community, kind: "water_meter", online: false,
                                                                             lastSeenAt: Example.date, changedAt: Example.date)], nextCursor: nil))
        api.schema("DeviceAlertPage", example: AlertPage(items: [Alert(id: "0194f3a0-0000-7000-8000-0000000000a1", deviceId: Example.device,
                                                                       kind: "offline", at: Example.date, lastSeenAt: Example.date)], nextCursor: nil))

        api.on(.post, "/api/v1/readings",
               summary: "Report readings: one object or an array of up to 5,000, answered per item once committed. Device token or staff with record_usage.",
               tag: "Readings", permission: .recordUsage, request: "ReadingBatch", response: "ReadingBatchResult") { request, context in
            let items = try await parse(request, context)
            if let device = context.device {
                let key = try await services.database.read { db in
                    try await ScopedStore(db, scope: TenantScope(companyId: device.companyId)).find(Device.self, id: device.deviceId)?.deviceKey
                }
                guard let key else { throw Problem(.unauthorized, code: "invalid_token", title: "The device of this token no longer exists") }
                let results = try await services.ingestor.ingest(companyId: device.companyId, items: items, source: "http", onlyDevice: key)
                return response(BatchResult(results))
            }
            let scope = try context.scope(for: .recordUsage)
            let results = try await services.ingestor.ingest(companyId: scope.companyId, items: items, source: "http",
                                                             communities: scope.communityIds)
            return response(BatchResult(results))
        }

        api.on(.post, "/api/v1/ingest/:integration",
               summary: "Signed webhook for IoT platforms: X-Courtyard-Timestamp (unix seconds) and X-Courtyard-Signature: sha256=HMAC(secret, timestamp + \".\" + body)",
               tag: "Readings", request: "ReadingBatch", response: "ReadingBatchResult") { request, context in
            let integrationId = try context.parameters.require("integration")
            let body = try await collect(request, context)
            guard let (companyId, name, secrets) = try await services.database.read({ db in
                try await IntegrationStore(db).secrets(id: integrationId)
            }) else {
                throw Problem(.unauthorized, code: "signature_mismatch", title: "The signature does not verify")
            }
            let now = services.clock.now()
            do {
                try WebhookSignature.verify(body: body, timestamp: request.headers[HTTPField.Name("X-Courtyard-Timestamp")!],
                                            signature: request.headers[HTTPField.Name("X-Courtyard-Signature")!], secrets: secrets,
                                            nowSeconds: Int64(now.timeIntervalSince1970.rounded(.down)))
            } catch let error as WebhookSignature.Failure {
                throw Problem(.unauthorized, code: error.code, title: "The webhook signature is refused",
                              detail: error == .staleTimestamp ? "the timestamp is more than 300 s from the server's clock" : nil)
            }
            let signature = request.headers[HTTPField.Name("X-Courtyard-Signature")!]!
            let fresh: Bool
            do {
                fresh = try await services.database.transaction { db in
                    try await IntegrationStore(db).remember(signature: signature, integrationId: integrationId, now: now)
                }
            } catch StorageError.alreadyExists {
                fresh = false
            }
            guard fresh else {
                throw Problem(.conflict, code: "signature_replayed", title: "This signed delivery was already received")
            }
            let items = try parse(body)
            do {
                let results = try await services.ingestor.ingest(companyId: companyId, items: items, source: "webhook:\(name)")
                return response(BatchResult(results))
            } catch {
                try? await services.database.transaction { db in try await IntegrationStore(db).forget(signature: signature) }
                throw error
            }
        }

        api.schema("FrameBatch", example: [["protocol": "cjt188",
                                            "hex": "68 10 88 05 27 10 15 20 00 81 16 90 1F 01 00 00 00 00 2C 00 00 00 00 2C 06 20 17 09 01 17 20 00 00 8E 16"]])
        api.on(.post, "/api/v1/readings/frames",
               summary: "Readings from raw DL/T 645 / CJ/T 188 reply frames forwarded by a gateway, matched to devices by protocol address (up to 5,000)",
               tag: "Readings", permission: .recordUsage, request: "FrameBatch", response: "ReadingBatchResult") { request, context in
            let scope = try context.scope(for: .recordUsage)
            let body = try await collect(request, context)
            let items: [FrameIngestion.Item]
            do {
                let decoder = JSONDecoder()
                decoder.keyDecodingStrategy = .convertFromSnakeCase
                items = try decoder.decode([FrameIngestion.Item].self, from: body)
            } catch {
                throw Problem.malformedJSON("send an array of {\"protocol\": \"dlt645\" | \"cjt188\", \"hex\": \"…\", \"measured_at\"?}")
            }
            guard !items.isEmpty, items.count <= ReadingParser.maximumBatch else {
                throw Problem(.contentTooLarge, code: "batch_too_large", title: "Send 1 to \(ReadingParser.maximumBatch) frames")
            }
            let now = services.clock.now().epochMilliseconds
            let submissions = try await services.database.read { db in
                try await FrameIngestion.submissions(items, companyId: scope.companyId, now: now, db: db)
            }
            let results = try await services.ingestor.ingest(companyId: scope.companyId, items: submissions.map(\.result), source: "frame",
                                                             communities: scope.communityIds)
            return response(BatchResult(zip(submissions, results).map { submission, result in
                var item = result
                item.index = submission.index
                return item
            }))
        }

        api.on(.get, "/api/v1/readings", summary: "Accepted readings of a device in measurement order",
               tag: "Readings", permission: .readDevices, response: "ReadingPage",
               query: ["device_id", "register", "from", "to", "limit", "cursor"]) { request, context in
            let scope = try context.scope(for: .readDevices)
            let query = request.uri.queryParameters
            guard let deviceId = query["device_id"].map(String.init) else { throw Problem.invalid("device_id", code: "required", "device_id is required") }
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [], cursor: .own)
            let from = try instant(query["from"], "from")
            let to = try instant(query["to"], "to")
            let after = try cursor.map { try TimeCursor($0).position }
            let rows = try await services.database.read { db in
                try await DeviceHistory(db, scope: scope).readings(deviceId: deviceId, register: query["register"].map(String.init), from: from, to: to,
                                                                   after: after, limit: limit)
            }
            let items = Array(rows.prefix(limit))
            let page = ReadingPage(items: items, nextCursor: rows.count > limit ? items.last.map { TimeCursor.text($0.measuredAt, $0.id) } : nil)
            return try .json(page)
        }

        api.on(.post, "/api/v1/readings/manual", summary: "Enter a reading by hand (broken or unreachable meter), with a reason and an optional photo reference",
               tag: "Readings", permission: .recordUsage, request: "ManualReading", response: "ReadingBatchResult") { request, context in
            let scope = try context.scope(for: .recordUsage)
            let user = try context.requirePrincipal().user.id
            let input = try await ResourceRoutes.decodeBody(ManualReading.self, request, context)
            guard !input.reason.trimmingCharacters(in: .whitespaces).isEmpty, input.reason.count <= 500 else {
                throw Problem.invalid("reason", code: "required", "a reason (up to 500 characters) is required")
            }
            guard (input.reading == nil) != (input.usage == nil) else {
                throw Problem.invalid("reading", code: "required", "send either reading (cumulative) or usage (interval)")
            }
            let value: ReadingValue = input.reading.map { .cumulative($0.milliUnits) } ?? .interval(input.usage!.milliUnits)
            guard value.isNonNegative else { throw Problem.invalid(input.reading == nil ? "usage" : "reading", code: "negative_value", "must not be negative") }
            guard let time = ReadingParser.parseTime(input.measuredAt) else {
                throw Problem.invalid("measured_at", code: "invalid_time", "use RFC 3339 or local YYYY-MM-DD HH:MM:SS")
            }
            let device = try await knownDevice(input.deviceId, scope: scope, services: services)
            let register = input.reading == nil ? ReadingSubmission.intervalRegister : (input.register ?? "energy_total")
            let submission = ReadingSubmission(deviceKey: device.deviceKey, register: register, value: value, time: time)
            let results = try await services.ingestor.ingest(companyId: scope.companyId, items: [.success(submission)], source: "manual",
                                                             communities: scope.communityIds, origin: "manual", enteredBy: user,
                                                             note: input.reason, photoRef: input.photoRef)
            return response(BatchResult(results))
        }

        api.on(.get, "/api/v1/held-readings", summary: "Readings held for review (conflicts, negative deltas, over the plausibility cap)",
               tag: "Readings", permission: .readDevices, response: "HeldReadingPage",
               query: ["status", "device_id", "limit", "cursor"]) { request, context in
            let scope = try context.scope(for: .readDevices)
            let query = request.uri.queryParameters
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [])
            let page = try await services.database.read { db in
                try await ReviewQueue(db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects, engine: services.database.engine)
                    .list(status: query["status"].map(String.init), deviceId: query["device_id"].map(String.init), after: cursor, limit: limit)
            }
            return try .json(HeldPage(items: page.items, nextCursor: page.next))
        }

        api.on(.post, "/api/v1/held-readings/:id/approve", summary: "Approve a held reading as sent, or with a corrected value; the decision is recorded",
               tag: "Readings", permission: .manageDevices, request: "ReviewDecision", response: "ReviewResult") { request, context in
            let scope = try context.scope(for: .manageDevices)
            let user = try context.requirePrincipal().user.id
            let id = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody(Decision.self, request, context)
            try requireNote(input.note)
            let now = services.clock.now()
            let result = try await services.database.transaction { db in
                let queue = ReviewQueue(db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects, engine: services.database.engine)
                guard let held = try await queue.get(id) else { throw ReviewError.notFound }
                let device = try await DeviceDirectory.device(held.deviceId, scope: scope, db: db)
                return try await queue.approve(id, by: user, note: input.note, editedValue: input.reading?.milliUnits, device: device, now: now)
            }
            await services.ingestor.effects?.committed()
            return try .json(DecisionResult(held: result.held, reading: Ingestor.result(index: 0, result.outcome)))
        }

        api.on(.post, "/api/v1/held-readings/:id/reject", summary: "Reject a held reading: it is never billed; the decision is recorded",
               tag: "Readings", permission: .manageDevices, request: "ReviewDecision", response: "ReviewResult") { request, context in
            let scope = try context.scope(for: .manageDevices)
            let user = try context.requirePrincipal().user.id
            let id = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody(Decision.self, request, context)
            try requireNote(input.note)
            let now = services.clock.now()
            let held = try await services.database.transaction { db in
                try await ReviewQueue(db, companyId: scope.companyId, communities: scope.communityIds, effects: services.ingestor.effects, engine: services.database.engine).reject(id, by: user, note: input.note, now: now)
            }
            return try .json(DecisionResult(held: held, reading: nil))
        }

        api.on(.post, "/api/v1/meter-replacements", summary: "Record a meter swap: the old meter's final reading and the new one's start",
               tag: "Readings", permission: .manageDevices, request: "MeterReplacementInput", response: "MeterReplacement", status: 201) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let user = try context.requirePrincipal().user.id
            let input = try await ResourceRoutes.decodeBody(ReplacementInput.self, request, context)
            try requireNote(input.reason, field: "reason")
            let now = services.clock.now()
            let register = input.register ?? "energy_total"
            let replacement = try await services.database.transaction { db in
                try await MeterReplacements(TenantSQL(db, scope: scope, engine: services.database.engine), effects: services.ingestor.effects)
                    .record(deviceId: input.deviceId, register: register, replacedAt: input.replacedAt, oldFinal: input.oldFinal, newStart: input.newStart,
                            reason: input.reason, by: user, now: now)
            }
            await services.ingestor.effects?.committed()
            return try .json(replacement, status: .created)
        }

        api.on(.get, "/api/v1/devices/:id/usage", summary: "Usage per hour or day in the community's time zone (spread over gaps and flagged estimated)",
               tag: "Readings", permission: .readDevices, response: "UsageReport",
               query: ["register", "from", "to", "granularity"]) { request, context in
            let scope = try context.scope(for: .readDevices)
            let id = try context.parameters.require("id")
            let query = request.uri.queryParameters
            guard let from = try instant(query["from"], "from"), let to = try instant(query["to"], "to") else {
                throw Problem.invalid("from", code: "required", "from and to (RFC 3339) are required")
            }
            guard to > from, to - from <= 400 * 86_400_000 else {
                throw Problem.invalid("to", code: "out_of_range", "to must be after from, at most 400 days later")
            }
            let granularity = UsageSeries.Granularity(rawValue: query["granularity"].map(String.init) ?? "day")
            guard let granularity else { throw Problem.invalid("granularity", code: "invalid_value", "granularity is hour or day") }
            guard granularity == .day || to - from <= 62 * 86_400_000 else {
                throw Problem.invalid("to", code: "out_of_range", "hourly usage covers at most 62 days")
            }
            let register = query["register"].map(String.init) ?? "energy_total"
            let report = try await services.database.read { db in
                let device = try await DeviceDirectory.device(id, scope: scope, db: db)
                let buckets = try await UsageSeries.query(db, companyId: scope.companyId, device: device, register: register,
                                                          from: from, to: to, granularity: granularity)
                let total = buckets.reduce(Int64(0)) { sum, bucket in
                    let (next, overflow) = sum.addingReportingOverflow((try? FixedPoint.parse(bucket.usage, scale: 3)) ?? 0)
                    return overflow ? Int64.max : next
                }
                return UsageReport(deviceId: id, register: register, granularity: granularity.rawValue, timeZone: device.timeZone.identifier,
                                   total: FixedPoint.format(total, scale: 3), buckets: buckets)
            }
            return try .json(report)
        }

        api.schema("UsageDerivationInput", example: ["period": "2026-10"], required: ["period"])
        api.schema("UsageDerivation", example: UsageDerivation.Summary(period: "2026-10", created: 240, unchanged: 0, differing: [],
                                                                       metersWithoutReadings: ["water_meter_102"]),
                   items: ["differing": .object(description: "subject_kind, subject_id, usage_kind, stored and derived quantities")])
        api.on(.post, "/api/v1/communities/:id/usage/derive",
               summary: "Monthly usage records for bill runs from the accepted readings of bound meters (source ingestion); differing stored figures are reported, not overwritten",
               tag: "Readings", permission: .recordUsage, request: "UsageDerivationInput", response: "UsageDerivation") { request, context in
            let scope = try context.scope(for: .recordUsage)
            let communityId = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody([String: String].self, request, context)
            guard let text = input["period"], let period = BillingPeriod(text), period.cycle == .monthly else {
                throw Problem.invalid("period", code: "invalid_period", "period must be a month, e.g. 2026-10")
            }
            let now = services.clock.now()
            let summary = try await services.database.transaction { db in
                try await UsageDerivation.run(db, scope: scope, communityId: communityId, period: period, now: now)
            }
            return try .json(summary)
        }

        api.schema("HouseUsage", example: HouseUsage(houseId: Example.house, kind: "electricity", granularity: "day", timeZone: "Asia/Shanghai",
                                                     total: "12.500", meters: ["electricity_meter_101"],
                                                     buckets: [UsageSeries.Bucket(start: "2026-10-01", startsAt: Example.date, usage: "12.500",
                                                                                  estimated: false, milli: 12_500)]))
        api.on(.get, "/api/v1/houses/:id/usage",
               summary: "A house's usage per hour or day for one utility, over the meters bound to it on each day (owner dashboards, billing checks)",
               tag: "Readings", permission: .readDevices, response: "HouseUsage", query: ["kind", "from", "to", "granularity"]) { request, context in
            let houseId = try context.parameters.require("id")
            let query = request.uri.queryParameters
            guard let kindText = query["kind"], let kind = UsageKind(rawValue: String(kindText)) else {
                throw Problem.invalid("kind", code: "invalid_value", "kind is electricity, water, gas or heat")
            }
            guard let requestedFrom = try instant(query["from"], "from"), let to = try instant(query["to"], "to"), to > requestedFrom,
                  to - requestedFrom <= 62 * 86_400_000 else {
                throw Problem.invalid("from", code: "out_of_range", "from and to (RFC 3339) are required, to after from, at most 62 days apart")
            }
            guard let granularity = UsageSeries.Granularity(rawValue: query["granularity"].map(String.init) ?? "day") else {
                throw Problem.invalid("granularity", code: "invalid_value",
                                      "granularity is hour or day; for months ask GET /api/v1/houses/{id}/usage/summary")
            }
            // Owners may read their own houses; staff need read_devices.
            let scope: TenantScope
            var from = requestedFrom
            if let principal = context.principal, principal.role == .owner {
                // Only while the occupancy holds, and only since it began: not a past occupant, not the previous owner's usage.
                guard let hold = try await OwnerAccess.hold(principal, house: houseId, services: services) else {
                    throw StorageError.notFound(table: "houses", id: houseId)
                }
                scope = hold.scope
                from = max(from, hold.sinceMilliseconds)
                guard from < to else { throw Problem.invalid("from", code: "out_of_range", "your occupancy of this house begins after `to`") }
            } else {
                scope = try context.scope(for: .readDevices)
            }
            let report = try await services.database.read { [from] db in
                try await HouseUsage.query(db, scope: scope, houseId: houseId, kind: kind, from: from, to: to, granularity: granularity)
            }
            return try .json(report)
        }

        api.on(.get, "/api/v1/device-presence", summary: "Online/offline state per device (status=online|offline) for the monitoring panel",
               tag: "Device", permission: .readDevices, response: "PresencePage", query: ["status", "community_id", "limit", "cursor"]) { request, context in
            let scope = try context.scope(for: .readDevices)
            return try .json(try await presence(request, scope: scope, services: services))
        }

        api.on(.get, "/api/v1/device-alerts", summary: "Offline and back-online alerts, newest first", tag: "Device", permission: .readDevices,
               response: "DeviceAlertPage", query: ["device_id", "kind", "limit", "cursor"]) { request, context in
            let scope = try context.scope(for: .readDevices)
            let query = request.uri.queryParameters
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [], cursor: .own)
            let after = try cursor.map { try TimeCursor($0).position }
            let rows = try await services.database.read { db in
                try await DeviceHistory(db, scope: scope).alerts(deviceId: query["device_id"].map(String.init), kind: query["kind"].map(String.init),
                                                                 after: after, limit: limit)
            }
            let items = Array(rows.prefix(limit))
            let page = AlertPage(items: items, nextCursor: rows.count > limit ? items.last.map { TimeCursor.text($0.at, $0.id) } : nil)
            return try .json(page)
        }

        api.on(.post, "/api/v1/integrations", summary: "Register an IoT platform; the webhook secret is shown once",
               tag: "Device", permission: .manageDevices, request: "IntegrationInput", response: "IntegrationSecret", status: 201) { request, context in
            let scope = try context.scope(for: .manageDevices)
            let input = try await ResourceRoutes.decodeBody(IntegrationInput.self, request, context)
            guard !input.name.isEmpty, input.name.count <= 64 else { throw Problem.invalid("name", code: "invalid_length", "name must be 1 to 64 characters") }
            let now = services.clock.now()
            let (integration, secret) = try await services.database.transaction { db in
                try await IntegrationStore(db).create(companyId: scope.companyId, name: input.name, now: now)
            }
            return try .json(IntegrationSecret(integration: integration, secret: secret, webhookUrl: "/api/v1/ingest/\(integration.id)"), status: .created)
        }

        api.on(.get, "/api/v1/integrations", summary: "IoT platform integrations (secrets are never shown again)", tag: "Device",
               permission: .readDevices, response: "IntegrationList") { _, context in
            let scope = try context.scope(for: .readDevices)
            let items = try await services.database.read { db in try await IntegrationStore(db).list(companyId: scope.companyId) }
            return try .json(IntegrationList(items: items))
        }

        api.on(.post, "/api/v1/integrations/:id/rotate", summary: "New webhook secret; the previous one stays valid until retired",
               tag: "Device", permission: .manageDevices, response: "IntegrationSecret") { _, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            let now = services.clock.now()
            guard let (integration, secret) = try await services.database.transaction({ db in
                try await IntegrationStore(db).rotate(companyId: scope.companyId, id: id, now: now)
            }) else { throw StorageError.notFound(table: "integrations", id: id) }
            return try .json(IntegrationSecret(integration: integration, secret: secret, webhookUrl: "/api/v1/ingest/\(integration.id)"))
        }

        api.on(.post, "/api/v1/integrations/:id/retire-previous", summary: "End a rotation: only the current secret verifies",
               tag: "Device", permission: .manageDevices, response: "IntegrationList") { _, context in
            let scope = try context.scope(for: .manageDevices)
            let id = try context.parameters.require("id")
            let now = services.clock.now()
            guard let integration = try await services.database.transaction({ db in
                try await IntegrationStore(db).retirePrevious(companyId: scope.companyId, id: id, now: now)
            }) else { throw StorageError.notFound(table: "integrations", id: id) }
            return try .json(IntegrationList(items: [integration]))
        }
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
                throw Problem(.badRequest, code: "empty_batch", title: "The batch holds no readings",
                              errors: [FieldIssue(field: "items", code: "empty_batch", message: "send at least one reading")])
            case .tooMany(let count):
                throw Problem(.contentTooLarge, code: "batch_too_large", title: "Too many readings in one request",
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
            try await DeviceHistory(db, scope: scope).presence(status.flatMap(DeviceHistory.Presence.init(rawValue:)),
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
