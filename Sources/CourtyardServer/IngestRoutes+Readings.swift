import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import HTTPTypes
import Hummingbird

extension IngestRoutes {
    /// Readings in: batches over HTTP, signed IoT-platform webhooks, meter frames, the reading list and manual entry.
    static func registerReadings(on api: DocumentedRouter, services: ServerServices) {
        let exampleItem = Ingestor.ItemResult(index: 0, status: "accepted", readingId: "0194f3a0-0000-7000-8000-0000000000c1", usage: "1.250")
        api.schema(
            "ReadingBatch",
            example: [
                [
                    "device_key": "meter_0001", "register": "energy_total", "reading": "12345.67",
                    "measured_at": "2026-10-01T00:00:00Z", "message_id": "m-1",
                ]
            ])
        api.schema("ReadingBatchResult", example: BatchResult([exampleItem]))
        let exampleView = ReadingView(
            id: "0194f3a0-0000-7000-8000-0000000000c1", deviceId: Example.device, register: "energy_total",
            measuredAt: Example.date, receivedAt: Example.date, reading: "12345.670", usage: "1.250",
            since: Example.date, messageId: "m-1", source: "http", origin: "device")
        api.schema("ReadingPage", example: ReadingPage(items: [exampleView], nextCursor: nil))
        api.schema(
            "ManualReading",
            example: ManualReading(
                deviceId: Example.device, register: "volume_total", reading: Quantity(milliUnits: 1_234_500),
                measuredAt: "2026-10-31T18:00:00+08:00", reason: "meter display read on site",
                photoRef: "photos/2026/10/31/102.jpg"), required: ["device_id", "measured_at", "reason"])

        api.on(
            .post, "/api/v1/readings",
            summary:
                "Report readings: one object or an array of up to 5,000, answered per item once committed. Device token or staff with record_usage.",
            tag: "Readings", permission: .recordUsage, request: "ReadingBatch", response: "ReadingBatchResult"
        ) { request, context in
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
            let results = try await services.ingestor.ingest(
                companyId: scope.companyId, items: items, source: "http",
                communities: scope.communityIds)
            return response(BatchResult(results))
        }

        api.on(
            .post, "/api/v1/ingest/:integration",
            summary:
                "Signed webhook for IoT platforms: X-Courtyard-Timestamp (unix seconds) and X-Courtyard-Signature: sha256=HMAC(secret, timestamp + \".\" + body)",
            tag: "Readings", request: "ReadingBatch", response: "ReadingBatchResult"
        ) { request, context in
            let integrationId = try context.parameters.require("integration")
            let body = try await collect(request, context)
            guard
                let (companyId, name, secrets) = try await services.database.read({ db in
                    try await IntegrationStore(db).secrets(id: integrationId)
                })
            else {
                throw Problem(.unauthorized, code: "signature_mismatch", title: "The signature does not verify")
            }
            let now = services.clock.now()
            do {
                try WebhookSignature.verify(
                    body: body, timestamp: request.headers[HTTPField.Name("X-Courtyard-Timestamp")!],
                    signature: request.headers[HTTPField.Name("X-Courtyard-Signature")!], secrets: secrets,
                    nowSeconds: Int64(now.timeIntervalSince1970.rounded(.down)))
            } catch let error as WebhookSignature.Failure {
                throw Problem(
                    .unauthorized, code: error.code, title: "The webhook signature is refused",
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

        api.schema(
            "FrameBatch",
            example: [
                [
                    "protocol": "cjt188",
                    "hex": "68 10 88 05 27 10 15 20 00 81 16 90 1F 01 00 00 00 00 2C 00 00 00 00 2C 06 20 17 09 01 17 20 00 00 8E 16",
                ]
            ])
        api.on(
            .post, "/api/v1/readings/frames",
            summary:
                "Readings from raw DL/T 645 / CJ/T 188 reply frames forwarded by a gateway, matched to devices by protocol address (up to 5,000)",
            tag: "Readings", permission: .recordUsage, request: "FrameBatch", response: "ReadingBatchResult"
        ) { request, context in
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
            let results = try await services.ingestor.ingest(
                companyId: scope.companyId, items: submissions.map(\.result), source: "frame",
                communities: scope.communityIds)
            return response(
                BatchResult(
                    zip(submissions, results).map { submission, result in
                        var item = result
                        item.index = submission.index
                        return item
                    }))
        }

        api.on(
            .get, "/api/v1/readings", summary: "Accepted readings of a device in measurement order",
            tag: "Readings", permission: .readDevices, response: "ReadingPage",
            query: ["device_id", "register", "from", "to", "limit", "cursor"]
        ) { request, context in
            let scope = try context.scope(for: .readDevices)
            let query = request.uri.queryParameters
            guard let deviceId = query["device_id"].map(String.init) else {
                throw Problem.invalid("device_id", code: "required", "device_id is required")
            }
            let (_, cursor, limit) = try ResourceRoutes.listParameters(request, filters: [], cursor: .own)
            let from = try instant(query["from"], "from")
            let to = try instant(query["to"], "to")
            let after = try cursor.map { try TimeCursor($0).position }
            let rows = try await services.database.read { db in
                try await DeviceHistory(db, scope: scope).readings(
                    deviceId: deviceId, register: query["register"].map(String.init), from: from, to: to,
                    after: after, limit: limit)
            }
            let items = Array(rows.prefix(limit))
            let page = ReadingPage(items: items, nextCursor: rows.count > limit ? items.last.map { TimeCursor.text($0.measuredAt, $0.id) } : nil)
            return try .json(page)
        }

        api.on(
            .post, "/api/v1/readings/manual",
            summary: "Enter a reading by hand (broken or unreachable meter), with a reason and an optional photo reference",
            tag: "Readings", permission: .recordUsage, request: "ManualReading", response: "ReadingBatchResult"
        ) { request, context in
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
            guard value.isNonNegative else {
                throw Problem.invalid(input.reading == nil ? "usage" : "reading", code: "negative_value", "must not be negative")
            }
            guard let time = ReadingParser.parseTime(input.measuredAt) else {
                throw Problem.invalid("measured_at", code: "invalid_time", "use RFC 3339 or local YYYY-MM-DD HH:MM:SS")
            }
            let device = try await knownDevice(input.deviceId, scope: scope, services: services)
            let register = input.reading == nil ? ReadingSubmission.intervalRegister : (input.register ?? "energy_total")
            let submission = ReadingSubmission(deviceKey: device.deviceKey, register: register, value: value, time: time)
            let results = try await services.ingestor.ingest(
                companyId: scope.companyId, items: [.success(submission)], source: "manual",
                communities: scope.communityIds, origin: "manual", enteredBy: user,
                note: input.reason, photoRef: input.photoRef)
            return response(BatchResult(results))
        }

    }
}
